package optim

import (
	"errors"
	"math"
	"testing"

	"github.com/metasurv/metasurv/nn"
)

// run does three steps of loss = Σ c_i·p_i² from p = (1, -2, 3), c = (1, 2, 3).
func run(t *testing.T, mk func(ps []*nn.Tensor) (Optimizer, error)) []float32 {
	t.Helper()
	p, _ := nn.FromData([]float32{1, -2, 3}, 3)
	p.SetRequiresGrad(true)
	c, _ := nn.FromData([]float32{1, 2, 3}, 3)
	opt, err := mk([]*nn.Tensor{p})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		opt.ZeroGrad()
		g := nn.NewGraph(nn.Options{Grad: true})
		loss := g.Sum(g.Mul(g.Square(p), c))
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
	}
	return p.Data
}

// Reference values from PyTorch 1.13 (python3-torch), same loss and steps:
//
//	opt = torch.optim.Adam([p], lr=0.1, weight_decay=0.01)
//	opt = torch.optim.AdamW([p], lr=0.1, weight_decay=0.1)
//	opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)
//	opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
func TestOptimizersMatchPyTorch(t *testing.T) {
	cases := []struct {
		name string
		mk   func(ps []*nn.Tensor) (Optimizer, error)
		want []float64
	}{
		{"adam", func(ps []*nn.Tensor) (Optimizer, error) { return NewAdam(ps, AdamOptions{LR: 0.1, WeightDecay: 0.01}) },
			[]float64{0.7015862464904785, -1.7006233930587769, 2.7003815174102783}},
		{"adamw", func(ps []*nn.Tensor) (Optimizer, error) { return NewAdamW(ps, AdamOptions{LR: 0.1, WeightDecay: 0.1}) },
			[]float64{0.6751012802124023, -1.6443686485290527, 2.614406108856201}},
		{"sgd", func(ps []*nn.Tensor) (Optimizer, error) {
			return NewSGD(ps, SGDOptions{LR: 0.1, Momentum: 0.9, Dampening: 0.1, WeightDecay: 0.01})
		}, []float64{0.09499859064817429, 1.0107231140136719, -2.535827875137329}},
		{"nesterov", func(ps []*nn.Tensor) (Optimizer, error) {
			return NewSGD(ps, SGDOptions{LR: 0.1, Momentum: 0.9, Nesterov: true})
		}, []float64{-0.10835198312997818, 0.8665919303894043, -0.9121918678283691}},
	}
	for _, c := range cases {
		got := run(t, c.mk)
		for i, w := range c.want {
			if math.Abs(float64(got[i])-w) > 2e-6*math.Max(1, math.Abs(w)) {
				t.Errorf("%s: p[%d] = %v, want %v", c.name, i, got[i], w)
			}
		}
	}
}

func TestClipGradNorm(t *testing.T) {
	p, _ := nn.FromData([]float32{0, 0}, 2)
	q, _ := nn.FromData([]float32{0}, 1)
	gp, _ := nn.FromData([]float32{3, 0}, 2)
	gq, _ := nn.FromData([]float32{4}, 1)
	p.SetGrad(gp)
	q.SetGrad(gq)
	if n := ClipGradNorm([]*nn.Tensor{p, q}, 1); math.Abs(n-5) > 1e-9 {
		t.Fatalf("norm %v, want 5", n)
	}
	if g := p.Grad().Data[0]; math.Abs(float64(g)-0.6) > 1e-6 {
		t.Fatalf("clipped grad %v, want 0.6", g)
	}
	if n := ClipGradNorm([]*nn.Tensor{p, q}, 10); math.Abs(n-1) > 1e-5 || math.Abs(float64(q.Grad().Data[0])-0.8) > 1e-6 {
		t.Fatalf("norm below max must not change gradients (norm %v)", n)
	}
}

func TestSchedules(t *testing.T) {
	s := StepLR{Base: 1, Gamma: 0.1, Size: 10}
	if s.LR(9) != 1 || math.Abs(s.LR(10)-0.1) > 1e-12 || math.Abs(s.LR(25)-0.01) > 1e-12 {
		t.Fatalf("StepLR: %v %v %v", s.LR(9), s.LR(10), s.LR(25))
	}
	c := Cosine{Base: 1, Min: 0.1, Steps: 10}
	if c.LR(0) != 1 || math.Abs(c.LR(5)-0.55) > 1e-12 || c.LR(10) != 0.1 || c.LR(99) != 0.1 {
		t.Fatalf("Cosine: %v %v %v", c.LR(0), c.LR(5), c.LR(10))
	}
	w := Warmup{Steps: 4, StartFactor: 0.2, After: c}
	if math.Abs(w.LR(0)-0.2) > 1e-12 || math.Abs(w.LR(2)-0.6) > 1e-12 || w.LR(4) != 1 || w.LR(9) != c.LR(5) {
		t.Fatalf("Warmup: %v %v %v %v", w.LR(0), w.LR(2), w.LR(4), w.LR(9))
	}
}

// Accumulating two half-batches with LossScale 1/2 gives the same update
// as one full batch.
func TestAccumulatorEqualsFullBatch(t *testing.T) {
	data := []float32{1, 2, 3, 4}
	step := func(batches [][]float32, every int) float32 {
		w, _ := nn.FromData([]float32{0.5}, 1)
		w.SetRequiresGrad(true)
		opt, _ := NewSGD([]*nn.Tensor{w}, SGDOptions{LR: 0.1})
		acc := &Accumulator{Opt: opt, Every: every}
		for _, b := range batches {
			x, _ := nn.FromData(b, len(b))
			g := nn.NewGraph(nn.Options{Grad: true})
			loss := g.Scale(g.Mean(g.Square(g.Mul(x, w))), acc.LossScale())
			if err := g.Backward(loss); err != nil {
				t.Fatal(err)
			}
			if _, err := acc.Micro(); err != nil {
				t.Fatal(err)
			}
		}
		return w.Data[0]
	}
	full := step([][]float32{data}, 1)
	split := step([][]float32{data[:2], data[2:]}, 2)
	if math.Abs(float64(full-split)) > 1e-6 {
		t.Fatalf("accumulated %v, full batch %v", split, full)
	}
}

func TestOptimizerErrors(t *testing.T) {
	if _, err := NewAdam(nil, AdamOptions{LR: 1}); err == nil {
		t.Error("no parameters accepted")
	}
	p := nn.NewTensor(1).SetRequiresGrad(true)
	if _, err := NewSGD([]*nn.Tensor{p}, SGDOptions{LR: 0.1, Nesterov: true}); err == nil {
		t.Error("Nesterov without momentum accepted")
	}
	if _, err := NewAdam([]*nn.Tensor{p}, AdamOptions{LR: 1, Beta1: 1}); err == nil {
		t.Error("beta1 = 1 accepted")
	}
}

func TestErrInput(t *testing.T) {
	p := []*nn.Tensor{nn.NewTensor(2).SetRequiresGrad(true)}
	for name, err := range map[string]error{
		"no parameters": func() error { _, err := NewSGD(nil, SGDOptions{LR: 0.1}); return err }(),
		"negative lr":   func() error { _, err := NewAdam(p, AdamOptions{LR: -1}); return err }(),
		"nesterov":      func() error { _, err := NewSGD(p, SGDOptions{LR: 0.1, Nesterov: true}); return err }(),
		"beta 1":        func() error { _, err := NewAdam(p, AdamOptions{LR: 0.1, Beta1: 1}); return err }(),
	} {
		if !errors.Is(err, ErrInput) {
			t.Errorf("%s: %v, want ErrInput", name, err)
		}
	}
}
