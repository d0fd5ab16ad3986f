package nn

import (
	"runtime"
	"sync"
	"weak"

	"github.com/metasurv/metasurv/internal/conv"
)

// Convolutions run on internal/conv plans. A plan holds a layer's packed
// weights and workspace, so plans are cached per (geometry, weight tensor)
// and re-packed only when the weight's version changes (Tensor.Touch, which
// optimizers and LoadStateDict call). Plans are checked out for the duration
// of one call, so concurrent graphs never share one.

type planKey struct {
	p          conv.Params
	outPad     [3]int
	transposed bool
	w          *Tensor
}

// mapKey identifies a plan in the cache; it holds the weight only weakly,
// so a dropped model's plans (and their packed weights) are freed by the
// cleanup registered in releasePlan.
type mapKey struct {
	p          conv.Params
	outPad     [3]int
	transposed bool
	w          weak.Pointer[Tensor]
}

func (k planKey) id() mapKey { return mapKey{k.p, k.outPad, k.transposed, weak.Make(k.w)} }

type planEntry struct {
	plan  *conv.Plan
	tplan *conv.TransposedPlan
	ver   uint64 // weight version packed
	set   bool
}

var planCache = struct {
	sync.Mutex
	m       map[mapKey][]*planEntry
	watched map[weak.Pointer[Tensor]]bool
}{m: map[mapKey][]*planEntry{}, watched: map[weak.Pointer[Tensor]]bool{}}

// maxPlans bounds the cache (networks built and dropped repeatedly).
const maxPlans = 4096

func acquirePlan(k planKey) (*planEntry, error) {
	id := k.id()
	planCache.Lock()
	if l := planCache.m[id]; len(l) > 0 {
		e := l[len(l)-1]
		planCache.m[id] = l[:len(l)-1]
		planCache.Unlock()
		return e, nil
	}
	planCache.Unlock()
	e := &planEntry{}
	var err error
	if k.transposed {
		e.tplan, err = conv.NewTransposedPlan(conv.TransposedParams{Params: k.p, OutputPadding: k.outPad})
	} else {
		e.plan, err = conv.NewPlan(k.p)
	}
	return e, err
}

func releasePlan(k planKey, e *planEntry) {
	id := k.id()
	planCache.Lock()
	if len(planCache.m) > maxPlans {
		clear(planCache.m)
	}
	planCache.m[id] = append(planCache.m[id], e)
	if !planCache.watched[id.w] {
		planCache.watched[id.w] = true
		runtime.AddCleanup(k.w, forgetPlans, id.w)
	}
	planCache.Unlock()
}

// forgetPlans drops the cached plans of a weight tensor that was collected.
func forgetPlans(w weak.Pointer[Tensor]) {
	planCache.Lock()
	defer planCache.Unlock()
	for k := range planCache.m {
		if k.w == w {
			delete(planCache.m, k)
		}
	}
	delete(planCache.watched, w)
}

// cachedPlans reports how many plans are cached for weight w (tests).
func cachedPlans(w weak.Pointer[Tensor]) int {
	planCache.Lock()
	defer planCache.Unlock()
	n := 0
	for k, l := range planCache.m {
		if k.w == w {
			n += len(l)
		}
	}
	return n
}

// withPlan runs fn with a plan for k whose weights are current.
func withPlan(k planKey, fn func(e *planEntry) error) error {
	e, err := checkout(k)
	if err != nil {
		return err
	}
	defer releasePlan(k, e)
	return fn(e)
}

// checkout acquires a plan for k and makes its packed weights current; the
// caller must releasePlan it.
func checkout(k planKey) (*planEntry, error) {
	e, err := acquirePlan(k)
	if err != nil {
		return nil, err
	}
	if !e.set || e.ver != k.w.version {
		if k.transposed {
			err = e.tplan.SetWeights(k.w.Data)
		} else {
			err = e.plan.SetWeights(k.w.Data)
		}
		if err != nil {
			releasePlan(k, e)
			return nil, err
		}
		e.set, e.ver = true, k.w.version
	}
	return e, nil
}

func (c *convGeom) params() conv.Params {
	return conv.Params{N: c.n, InC: c.cin, OutC: c.cout, In: c.in, Kernel: c.k,
		Stride: c.o.Stride, Pad: c.o.Padding, Dilation: c.o.Dilation, Groups: c.o.Groups}
}
