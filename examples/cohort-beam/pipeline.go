package main

import (
	"bytes"
	"context"
	"encoding/gob"
	"reflect"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	// gob keeps NaN and nested slices exactly; the elements are small.
	for _, t := range []reflect.Type{reflect.TypeOf(Manifest{}), reflect.TypeOf(Outcome{}), reflect.TypeOf(Failure{})} {
		beam.RegisterType(t)
	}
	// One named function per type: Beam resolves coder functions by
	// symbol name, and generic instantiations share one.
	beam.RegisterCoder(reflect.TypeOf(Manifest{}), encManifest, decManifest)
	beam.RegisterCoder(reflect.TypeOf(Outcome{}), encOutcome, decOutcome)
	beam.RegisterCoder(reflect.TypeOf(Failure{}), encFailure, decFailure)
	register.DoFn5x1[context.Context, *sdf.LockRTracker, Manifest, func(Outcome), func(Failure), error](&patientFn{})
	register.Emitter1[Outcome]()
	register.Emitter1[Failure]()
	register.DoFn4x1[context.Context, int, func(*Outcome) bool, func(*Failure) bool, error](&aggregateFn{})
	register.Iter1[Outcome]()
	register.Iter1[Failure]()
}

func gobEnc(v any) ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(v)
	return b.Bytes(), err
}

func gobDec(b []byte, v any) error { return gob.NewDecoder(bytes.NewReader(b)).Decode(v) }

func encManifest(v Manifest) ([]byte, error) { return gobEnc(v) }
func encOutcome(v Outcome) ([]byte, error)   { return gobEnc(v) }
func encFailure(v Failure) ([]byte, error)   { return gobEnc(v) }

func decManifest(b []byte) (v Manifest, err error) { err = gobDec(b, &v); return }
func decOutcome(b []byte) (v Outcome, err error)   { err = gobDec(b, &v); return }
func decFailure(b []byte) (v Failure, err error)   { err = gobDec(b, &v); return }

// patientFn is a splittable DoFn over the manifest: its restriction is the
// range of patient indices, so the runner can split the remaining patients
// off to other bundles and workers while one runs (prism, Flink, Dataflow
// all split a slow bundle). All the work is Config.Process.
type patientFn struct {
	Config Config
	res    *resources
}

// Setup loads the atlas and the model, once per worker process.
func (fn *patientFn) Setup() error {
	r, err := fn.Config.Setup()
	fn.res = r
	return err
}

func (fn *patientFn) CreateInitialRestriction(m Manifest) offsetrange.Restriction {
	return offsetrange.Restriction{Start: 0, End: int64(len(m.Patients))}
}

// SplitRestriction keeps the whole range: ProcessElement works on
// -parallel patients at once, and the runner may still split the
// unclaimed tail off to other workers (dynamic work rebalancing).
func (fn *patientFn) SplitRestriction(m Manifest, r offsetrange.Restriction) []offsetrange.Restriction {
	return []offsetrange.Restriction{r}
}

func (fn *patientFn) RestrictionSize(m Manifest, r offsetrange.Restriction) float64 { return r.Size() }

func (fn *patientFn) CreateTracker(r offsetrange.Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(offsetrange.NewTracker(r))
}

// ProcessElement claims patients one at a time, each only when a slot of
// the -parallel pool is free (so that what is not started can still be
// split off), runs them concurrently and emits the results at the end
// (Beam emitters are not safe for concurrent use).
func (fn *patientFn) ProcessElement(ctx context.Context, rt *sdf.LockRTracker, m Manifest, ok func(Outcome), fail func(Failure)) error {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		oks   []Outcome
		fails []Failure
	)
	slots := make(chan struct{}, max(1, fn.Config.Parallel))
	for i := rt.GetRestriction().(offsetrange.Restriction).Start; ; i++ {
		slots <- struct{}{}
		if !rt.TryClaim(i) {
			<-slots
			break
		}
		wg.Add(1)
		go func(p Patient) {
			defer wg.Done()
			defer func() { <-slots }()
			o, f := fn.Config.Process(ctx, fn.res, p)
			mu.Lock()
			defer mu.Unlock()
			if f != nil {
				fails = append(fails, *f)
			} else {
				oks = append(oks, *o)
			}
		}(m.Patients[i])
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err // cancelled: not the patients' fault, no dead-letter
	}
	for _, f := range fails {
		log.Infof(ctx, "dead-letter %s [%s]: %s", f.ID, f.Stage, f.Reason)
		fail(f)
	}
	for _, o := range oks {
		ok(o)
	}
	return nil
}

// aggregateFn receives every outcome and failure under one key and writes
// the cohort-level outputs.
type aggregateFn struct {
	Out     string
	Classes map[string]int
}

func (fn *aggregateFn) ProcessElement(ctx context.Context, _ int, oks func(*Outcome) bool, fails func(*Failure) bool) error {
	var os []Outcome
	var fs []Failure
	var o Outcome
	for oks(&o) {
		os = append(os, o)
		o = Outcome{}
	}
	var f Failure
	for fails(&f) {
		fs = append(fs, f)
	}
	s, err := aggregate(ctx, fn.Out, fn.Classes, os, fs)
	if err != nil {
		return err
	}
	log.Infof(ctx, "%v", s)
	return nil
}

// buildPipeline: manifest → patients (splittable) → {outcomes, dead-letter}
// → one group → cohort outputs.
func buildPipeline(c Config, m *Manifest, classes map[string]int) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	man := beam.Create(s, *m)
	oks, fails := beam.ParDo2(s.Scope("patients"), &patientFn{Config: c}, man)
	all := beam.CoGroupByKey(s.Scope("gather"), beam.AddFixedKey(s, oks), beam.AddFixedKey(s, fails))
	beam.ParDo0(s.Scope("aggregate"), &aggregateFn{Out: c.Out, Classes: classes}, all)
	return p
}
