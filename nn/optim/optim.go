package optim

import (
	"fmt"
	"math"

	"github.com/metasurv/metasurv/nn"
)

// Optimizer updates parameters from their gradients.
type Optimizer interface {
	// Step applies one update to every parameter that has a gradient.
	Step() error
	// ZeroGrad forgets all gradients (cheaply: buffers are kept).
	ZeroGrad()
	// LR returns the current learning rate; SetLR changes it (schedules).
	LR() float64
	SetLR(lr float64)
	// State returns a copy of the optimizer's internal state (moment
	// estimates, step counts, momentum buffers) as named tensors, and
	// SetState restores it, so that a run saved and resumed continues
	// bit for bit. See the optimizers' State methods for the names.
	State() (map[string]*nn.Tensor, error)
	SetState(state map[string]*nn.Tensor) error
}

// params is the parameter list shared by all optimizers.
type params struct {
	ps []*nn.Tensor
	lr float64
}

// ZeroGrad forgets the gradients of all parameters.
func (p *params) ZeroGrad() {
	for _, t := range p.ps {
		t.ZeroGrad()
	}
}

// LR returns the current learning rate.
func (p *params) LR() float64 { return p.lr }

// SetLR sets the learning rate (schedules call it every step).
func (p *params) SetLR(lr float64) { p.lr = lr }

func newParams(ps []*nn.Tensor, lr float64) (params, error) {
	if len(ps) == 0 {
		return params{}, fmt.Errorf("%w: no parameters to optimise", ErrInput)
	}
	if !(lr >= 0) || math.IsInf(lr, 1) {
		return params{}, fmt.Errorf("%w: learning rate %v (want finite, ≥ 0)", ErrInput, lr)
	}
	for i, t := range ps {
		if t == nil {
			return params{}, fmt.Errorf("%w: parameter %d is nil", ErrInput, i)
		}
	}
	return params{ps: ps, lr: lr}, nil
}

// SGDOptions are torch.optim.SGD's hyper-parameters.
type SGDOptions struct {
	LR, Momentum, Dampening, WeightDecay float64
	Nesterov                             bool
}

// SGD is stochastic gradient descent with PyTorch's momentum semantics:
// d = g + wd·p; buf = d on the first step, else μ·buf + (1-τ)·d;
// d = d + μ·buf (Nesterov) or buf; p -= lr·d.
type SGD struct {
	params
	o   SGDOptions
	buf [][]float32
}

// NewSGD returns an SGD optimizer over ps.
func NewSGD(ps []*nn.Tensor, o SGDOptions) (*SGD, error) {
	p, err := newParams(ps, o.LR)
	if err != nil {
		return nil, err
	}
	// As torch: momentum and weight decay ≥ 0; NaN or Inf would turn every
	// parameter NaN at the first step.
	if !(o.Momentum >= 0) || math.IsInf(o.Momentum, 1) || !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 1) ||
		math.IsNaN(o.Dampening) || math.IsInf(o.Dampening, 0) {
		return nil, fmt.Errorf("%w: momentum %v, dampening %v, weight decay %v (want finite; momentum and weight decay ≥ 0)", ErrInput, o.Momentum, o.Dampening, o.WeightDecay)
	}
	if o.Nesterov && (o.Momentum <= 0 || o.Dampening != 0) {
		return nil, fmt.Errorf("%w: Nesterov momentum requires a momentum and zero dampening", ErrInput)
	}
	return &SGD{params: p, o: o, buf: make([][]float32, len(ps))}, nil
}

// Step applies one SGD update.
func (s *SGD) Step() error {
	lr, mu, keep, wd := float32(s.lr), float32(s.o.Momentum), float32(1-s.o.Dampening), float32(s.o.WeightDecay)
	for i, p := range s.ps {
		gr := p.Grad()
		if gr == nil {
			continue
		}
		first := s.buf[i] == nil
		if mu != 0 && first {
			s.buf[i] = make([]float32, len(p.Data))
		}
		p.Update(func(data []float32) { s.update(data, gr.Data, s.buf[i], first, lr, wd, mu, keep) })
	}
	return nil
}

// update is one SGD step of a parameter's values.
func (s *SGD) update(data, grad, buf []float32, first bool, lr, wd, mu, keep float32) {
	for j, g := range grad {
		d := g + wd*data[j]
		if mu != 0 {
			b := d
			if !first {
				b = mu*buf[j] + keep*d
			}
			buf[j] = b
			if s.o.Nesterov {
				d += mu * b
			} else {
				d = b
			}
		}
		data[j] -= lr * d
	}
}

// AdamOptions are torch.optim.Adam/AdamW hyper-parameters; zero Beta1, Beta2
// and Eps mean PyTorch's defaults 0.9, 0.999, 1e-8.
type AdamOptions struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
}

// Adam is torch.optim.Adam (L2 weight decay added to the gradient) or,
// when decoupled, torch.optim.AdamW (p *= 1 - lr·wd before the update).
type Adam struct {
	params
	o         AdamOptions
	decoupled bool
	step      []int
	m, v      [][]float32
}

// NewAdam returns Adam over ps.
func NewAdam(ps []*nn.Tensor, o AdamOptions) (*Adam, error) { return newAdam(ps, o, false) }

// NewAdamW returns AdamW (decoupled weight decay) over ps.
func NewAdamW(ps []*nn.Tensor, o AdamOptions) (*Adam, error) { return newAdam(ps, o, true) }

func newAdam(ps []*nn.Tensor, o AdamOptions, decoupled bool) (*Adam, error) {
	p, err := newParams(ps, o.LR)
	if err != nil {
		return nil, err
	}
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.999
	}
	if o.Eps == 0 {
		o.Eps = 1e-8
	}
	if !(o.Beta1 >= 0 && o.Beta1 < 1) || !(o.Beta2 >= 0 && o.Beta2 < 1) {
		return nil, fmt.Errorf("%w: betas (%v, %v) must be in [0, 1)", ErrInput, o.Beta1, o.Beta2)
	}
	// As torch: eps and weight decay ≥ 0 (and finite here: NaN or Inf
	// would turn every parameter NaN at the first step).
	if !(o.Eps >= 0) || math.IsInf(o.Eps, 1) || !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 1) {
		return nil, fmt.Errorf("%w: eps %v, weight decay %v (want finite, ≥ 0)", ErrInput, o.Eps, o.WeightDecay)
	}
	n := len(ps)
	return &Adam{params: p, o: o, decoupled: decoupled, step: make([]int, n), m: make([][]float32, n), v: make([][]float32, n)}, nil
}

// Step applies one Adam update with bias correction:
// m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g², p -= lr/(1-β1^t) · m / (√v/√(1-β2^t) + ε).
func (a *Adam) Step() error {
	for i, p := range a.ps {
		gr := p.Grad()
		if gr == nil {
			continue
		}
		if a.m[i] == nil {
			a.m[i], a.v[i] = make([]float32, len(p.Data)), make([]float32, len(p.Data))
		}
		a.step[i]++
		t := float64(a.step[i])
		bc1 := 1 - math.Pow(a.o.Beta1, t)
		bc2 := 1 - math.Pow(a.o.Beta2, t)
		// 1-β is rounded from float64, as PyTorch does (1-float32(0.9) ≠ 0.1).
		k := adamK{b1: float32(a.o.Beta1), b2: float32(a.o.Beta2), c1: float32(1 - a.o.Beta1), c2: float32(1 - a.o.Beta2),
			step: float32(a.lr / bc1), sbc2: float32(math.Sqrt(bc2)), eps: float32(a.o.Eps), decay: 1}
		if a.decoupled {
			k.decay, k.decoupled = float32(1-a.lr*a.o.WeightDecay), 1
		} else {
			k.wd = float32(a.o.WeightDecay)
		}
		m, v := a.m[i], a.v[i]
		p.Update(func(data []float32) { adamKernel(data, gr.Data, m, v, k) })
	}
	return nil
}

// ClipGradNorm scales all gradients so that their global L2 norm is at most
// maxNorm (torch.nn.utils.clip_grad_norm_, with its 1e-6 guard) and returns
// the norm before clipping.
func ClipGradNorm(ps []*nn.Tensor, maxNorm float64) float64 {
	var ss float64
	for _, p := range ps {
		if g := p.Grad(); g != nil {
			for _, v := range g.Data {
				ss += float64(v) * float64(v)
			}
		}
	}
	norm := math.Sqrt(ss)
	if c := maxNorm / (norm + 1e-6); c < 1 {
		for _, p := range ps {
			if g := p.Grad(); g != nil {
				for j := range g.Data {
					g.Data[j] *= float32(c)
				}
			}
		}
	}
	return norm
}

// Accumulator steps an optimizer every Every micro-batches, so that the
// effective batch is Every times what fits in memory. Scale the loss of
// each micro-batch by LossScale before Backward so the accumulated
// gradient is the mean over the effective batch.
type Accumulator struct {
	Opt   Optimizer
	Every int
	n     int
}

// LossScale is 1/Every (1 when Every ≤ 1).
func (a *Accumulator) LossScale() float32 { return 1 / float32(max(a.Every, 1)) }

// Micro records one micro-batch whose gradients were accumulated; on every
// Every-th call it steps the optimizer, zeroes the gradients and returns
// true.
func (a *Accumulator) Micro() (stepped bool, err error) {
	a.n++
	if a.n < max(a.Every, 1) {
		return false, nil
	}
	a.n = 0
	if err := a.Opt.Step(); err != nil {
		return false, err
	}
	a.Opt.ZeroGrad()
	return true, nil
}
