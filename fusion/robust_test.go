package fusion

import (
	"context"
	"errors"
	"math"
	"runtime"
	"testing"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/survival"
)

// NewModel refused nothing of these: absurd widths went to the allocator
// (a fatal out-of-memory, not even a panic), NaN dropouts passed the range
// checks, a negative Cox weight would maximise the Cox loss, and unknown
// losses, unsorted cuts or duplicate task levels were taken silently.
func TestNewModelRefusesBadConfigs(t *testing.T) {
	nan := math.NaN()
	base := ModelConfig{Fusion: Late, ClinicalDim: 3, EmbedDim: 4, Hidden: 8}
	for name, mod := range map[string]func(*ModelConfig){
		"huge clinical":       func(c *ModelConfig) { c.ClinicalDim = 1 << 40 },
		"huge embedding":      func(c *ModelConfig) { c.EmbedDim = 1 << 40 },
		"huge hidden":         func(c *ModelConfig) { c.Hidden = 1 << 40 },
		"wide and deep":       func(c *ModelConfig) { c.ClinicalDim, c.Hidden = 1<<24, 1<<24 },
		"NaN dropout":         func(c *ModelConfig) { c.Dropout = nan },
		"NaN modality drop":   func(c *ModelConfig) { c.ModalityDropout = nan },
		"NaN sequence drop":   func(c *ModelConfig) { c.SequenceDropout = nan },
		"NaN Cox weight":      func(c *ModelConfig) { c.CoxHead, c.CoxWeight = true, nan },
		"negative Cox weight": func(c *ModelConfig) { c.CoxHead, c.CoxWeight = true, -1 },
		"unknown loss":        func(c *ModelConfig) { c.SurvivalLoss = SurvivalLoss(7) },
		"unsorted cuts":       func(c *ModelConfig) { c.Scheme = survival.ClassScheme{Cuts: []float64{21, 6}, Unit: survival.Months} },
		"NaN cut":             func(c *ModelConfig) { c.Scheme = survival.ClassScheme{Cuts: []float64{nan}, Unit: survival.Months} },
		"duplicate level":     func(c *ModelConfig) { c.Tasks = []Task{{Name: "origin", Levels: []string{"lung", "lung"}}} },
		"duplicate task": func(c *ModelConfig) {
			c.Tasks = []Task{{Name: "origin", Levels: []string{"a", "b"}}, {Name: "origin", Levels: []string{"a", "b"}}}
		},
		"NaN task weight": func(c *ModelConfig) { c.Tasks = []Task{{Name: "origin", Levels: []string{"a", "b"}, Weight: nan}} },
	} {
		t.Run(name, func(t *testing.T) {
			c := base
			mod(&c)
			if _, err := NewModel(nil, c); !errors.Is(err, ErrSchema) {
				t.Fatalf("%v, want ErrSchema", err)
			}
		})
	}
	if _, err := NewModel(nil, base); err != nil {
		t.Fatalf("base configuration: %v", err)
	}
}

// A training record with an undeclared field was accepted by FitEncoder
// (Encode refuses it later); values too large to standardise gave an
// infinite standard deviation or an infinite feature without an error.
func TestEncoderRefusesOutOfRange(t *testing.T) {
	s := synthSchema()
	rec := func(age string) Record {
		return Record{"age": age, "kps": "70", "histology": "lung", "extracranial": "no"}
	}
	withWeight := rec("60")
	withWeight["weight"] = "80"
	if _, err := FitEncoder(s, []Record{rec("50"), withWeight}); !errors.Is(err, ErrUnknownColumn) {
		t.Errorf("undeclared field: %v, want ErrUnknownColumn", err)
	}
	if _, err := FitEncoder(s, []Record{rec("1e308"), rec("-1e308")}); !errors.Is(err, ErrBadCell) {
		t.Errorf("values of ±1e308: %v, want ErrBadCell", err)
	}
	enc, err := FitEncoder(s, []Record{rec("50"), rec("70")})
	if err != nil {
		t.Fatal(err)
	}
	if x, _, err := enc.Encode(rec("1e300")); !errors.Is(err, ErrBadCell) {
		t.Errorf("age 1e300: %v, %v, want ErrBadCell", x, err)
	}
	if _, _, err := enc.Encode(rec("1e6")); err != nil {
		t.Errorf("age 1e6 (large but representable): %v", err)
	}
}

// A channel flagged absent but holding data was fed to the model while
// the prediction reported the sequence as missing; training did the same.
func TestAbsentChannelMustBeZero(t *testing.T) {
	b, test := trainedBundle(t)
	p, _ := NewPredictor(b, PredictorOptions{})
	s := test.Samples[0]
	st := stackOf(test, s)
	st.Present = []bool{false, true, true, true} // T1 keeps its voxels
	if _, err := p.Predict(context.Background(), Patient{Stack: st, Clinical: s.Clinical}); !errors.Is(err, ErrShape) {
		t.Errorf("Predict: %v, want ErrShape", err)
	}
	c := test.Subset(seq(0, len(test.Samples)))
	c.Samples[0].Present = []bool{true, true, false, true}
	if _, err := RiskCohort(b.Model, b.Encoder, c); !errors.Is(err, ErrShape) {
		t.Errorf("RiskCohort: %v, want ErrShape", err)
	}
	// Zeroing the channel makes the same patient valid.
	n := len(st.Data) / 4
	st.Data = append([]float32(nil), st.Data...)
	clear(st.Data[:n])
	if _, err := p.Predict(context.Background(), Patient{Stack: st, Clinical: s.Clinical}); err != nil {
		t.Errorf("zeroed absent channel: %v", err)
	}
}

// Inputs of the lower-level API that used to panic or pass: flags or data
// shorter than the batch, an unknown monitor, channel names that do not fit,
// duplicate ids, a nil cohort.
func TestFusionAPIRefusesMalformedInput(t *testing.T) {
	c, _ := synthCohort(synthOptions{N: 12, Dim: 12, Seed: 3})
	enc, err := FitEncoder(synthSchema(), records(c))
	if err != nil {
		t.Fatal(err)
	}
	newModel := func() *Model {
		m, err := NewModel(newTinyNet(4, 6, 2), ModelConfig{Fusion: Late, ClinicalDim: enc.Dim(), Hidden: 8, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := newModel()
	check := func(name string, want error, f func() error) {
		t.Helper()
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s panics: %v", name, r)
			}
		}()
		if err := f(); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	img := nn.NewTensor(2, 4, 12, 12, 12)
	check("ForwardBatch short HasImage", ErrShape, func() error {
		_, err := m.ForwardBatch(nn.NewGraph(nn.Options{}), Batch{Images: img, Clinical: nn.NewTensor(2, enc.Dim()), HasImage: []bool{true}})
		return err
	})
	check("ForwardBatch short clinical data", ErrShape, func() error {
		_, err := m.ForwardBatch(nn.NewGraph(nn.Options{}), Batch{Images: img, Clinical: &nn.Tensor{Shape: []int{2, enc.Dim()}, Data: make([]float32, 1)}})
		return err
	})
	check("Train unknown monitor", ErrSchema, func() error {
		_, _, err := Train(context.Background(), newModel(), enc, c, nil, TrainOptions{Epochs: 1, Monitor: Monitor(9)})
		return err
	})
	check("Train channel names", ErrShape, func() error {
		_, _, err := Train(context.Background(), newModel(), enc, c, nil, TrainOptions{Epochs: 1, Channels: []string{"T1"}})
		return err
	})
	check("MatchIDs duplicate clinical id", ErrDuplicateID, func() error {
		_, _, err := MatchIDs([]string{"a", "a"}, []string{"a"}, MatchOptions{})
		return err
	})
	check("MatchIDs duplicate image id", ErrDuplicateID, func() error {
		_, _, err := MatchIDs([]string{"a"}, []string{"a", "a"}, MatchOptions{SkipUnmatched: true})
		return err
	})
	check("Evaluate nil cohort", ErrShape, func() error { _, err := Evaluate(m, enc, nil); return err })
	check("RiskCohort nil cohort", ErrShape, func() error { _, err := RiskCohort(m, enc, nil); return err })
}

// An absurd TrainOptions.Workers started that many loader goroutines per
// epoch; more loaders than batches only idle.
func TestLoaderWorkersBoundedByBatches(t *testing.T) {
	c, _ := synthCohort(synthOptions{N: 12, Dim: 12, Seed: 3})
	m, err := NewModel(newTinyNet(4, 6, 2), ModelConfig{Fusion: ImageOnly, Hidden: 8, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	ps, _, err := prepare(m, nil, c)
	if err != nil {
		t.Fatal(err)
	}
	o := TrainOptions{Workers: 5000, BatchSize: 4}
	o.defaults()
	tr := &trainer{m: m, o: o, shape: c.Shape, train: ps}
	before := runtime.NumGoroutine()
	out, stop := tr.epochBatches(context.Background(), 0)
	started := runtime.NumGoroutine() - before
	stop()
	for range out {
	}
	if started > 10 {
		t.Errorf("%d goroutines started for 3 batches", started)
	}
}
