package nn

import (
	"sync"

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

type planEntry struct {
	plan  *conv.Plan
	tplan *conv.TransposedPlan
	ver   uint64 // weight version packed
	set   bool
}

var planCache = struct {
	sync.Mutex
	m map[planKey][]*planEntry
}{m: map[planKey][]*planEntry{}}

// maxPlans bounds the cache (networks built and dropped repeatedly).
const maxPlans = 4096

func acquirePlan(k planKey) (*planEntry, error) {
	planCache.Lock()
	if l := planCache.m[k]; len(l) > 0 {
		e := l[len(l)-1]
		planCache.m[k] = l[:len(l)-1]
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
	planCache.Lock()
	if len(planCache.m) > maxPlans {
		clear(planCache.m)
	}
	planCache.m[k] = append(planCache.m[k], e)
	planCache.Unlock()
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
