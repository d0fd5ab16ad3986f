package optim

import (
	"errors"
	"math"
	"testing"

	"github.com/metasurv/metasurv/nn"
)

// Hyper-parameters that were accepted and turned every parameter NaN (or
// moved it the wrong way) at the first step: NaN betas, weight decay,
// momentum or dampening, a negative eps, momentum or weight decay, an
// infinite learning rate; and a nil parameter, which panicked in Step.
func TestOptimizersRefuseBadHyperParameters(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	ps := func() []*nn.Tensor { return []*nn.Tensor{nn.NewTensor(3).SetRequiresGrad(true)} }
	for _, o := range []AdamOptions{
		{LR: inf}, {LR: 1e-3, Beta1: nan}, {LR: 1e-3, Beta2: nan}, {LR: 1e-3, Eps: -1}, {LR: 1e-3, Eps: nan},
		{LR: 1e-3, WeightDecay: nan}, {LR: 1e-3, WeightDecay: -0.1},
	} {
		if _, err := NewAdam(ps(), o); !errors.Is(err, ErrInput) {
			t.Errorf("NewAdam(%+v): %v, want ErrInput", o, err)
		}
		if _, err := NewAdamW(ps(), o); !errors.Is(err, ErrInput) {
			t.Errorf("NewAdamW(%+v): %v, want ErrInput", o, err)
		}
	}
	for _, o := range []SGDOptions{
		{LR: inf}, {LR: 0.1, Momentum: nan}, {LR: 0.1, Momentum: -1}, {LR: 0.1, Dampening: nan}, {LR: 0.1, WeightDecay: nan}, {LR: 0.1, WeightDecay: -1},
	} {
		if _, err := NewSGD(ps(), o); !errors.Is(err, ErrInput) {
			t.Errorf("NewSGD(%+v): %v, want ErrInput", o, err)
		}
	}
	if _, err := NewAdam([]*nn.Tensor{nil}, AdamOptions{LR: 1e-3}); !errors.Is(err, ErrInput) {
		t.Errorf("NewAdam with a nil parameter: %v, want ErrInput", err)
	}
	if _, err := NewAdamW(ps(), AdamOptions{LR: 1e-3, WeightDecay: 1e-2}); err != nil {
		t.Errorf("valid AdamW: %v", err)
	}
}
