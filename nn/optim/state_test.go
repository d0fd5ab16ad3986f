package optim

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/nn/checkpoint"
)

// trainSteps runs steps [from, to) of loss = Σ c·p² + Σ d·q² on p (3
// values) and q (2×2, stepped only from step 1 on, so that the two
// parameters have different step counts), with opt over [p, q].
func trainSteps(t *testing.T, opt Optimizer, p, q *nn.Tensor, from, to int) {
	t.Helper()
	c, _ := nn.FromData([]float32{1, 2, 3}, 3)
	d, _ := nn.FromData([]float32{0.5, -1, 2, 0.25}, 2, 2)
	for s := from; s < to; s++ {
		opt.ZeroGrad()
		g := nn.NewGraph(nn.Options{Grad: true})
		loss := g.Sum(g.Mul(g.Square(p), c))
		if s >= 1 {
			loss = g.Add(loss, g.Sum(g.Mul(g.Square(q), d)))
		}
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
	}
}

func newPQ() (*nn.Tensor, *nn.Tensor) {
	p, _ := nn.FromData([]float32{1, -2, 3}, 3)
	q, _ := nn.FromData([]float32{0.3, -0.7, 1.1, 2}, 2, 2)
	p.SetRequiresGrad(true)
	q.SetRequiresGrad(true)
	return p, q
}

// TestStateResumeBitExact: 7 steps in one go equal 3 steps, the state
// saved (through a safetensors file's bytes) into a new optimizer over new
// parameter tensors, and 4 more steps — bit for bit, for every optimizer.
func TestStateResumeBitExact(t *testing.T) {
	mks := map[string]func(ps []*nn.Tensor) (Optimizer, error){
		"adam":  func(ps []*nn.Tensor) (Optimizer, error) { return NewAdam(ps, AdamOptions{LR: 0.05, WeightDecay: 0.01}) },
		"adamw": func(ps []*nn.Tensor) (Optimizer, error) { return NewAdamW(ps, AdamOptions{LR: 0.05, WeightDecay: 0.1}) },
		"sgd": func(ps []*nn.Tensor) (Optimizer, error) {
			return NewSGD(ps, SGDOptions{LR: 0.05, Momentum: 0.9, Dampening: 0.1, WeightDecay: 0.01})
		},
		"nesterov": func(ps []*nn.Tensor) (Optimizer, error) {
			return NewSGD(ps, SGDOptions{LR: 0.05, Momentum: 0.9, Nesterov: true})
		},
	}
	for name, mk := range mks {
		t.Run(name, func(t *testing.T) {
			p, q := newPQ()
			opt, err := mk([]*nn.Tensor{p, q})
			if err != nil {
				t.Fatal(err)
			}
			trainSteps(t, opt, p, q, 0, 7)

			p2, q2 := newPQ()
			o1, _ := mk([]*nn.Tensor{p2, q2})
			trainSteps(t, o1, p2, q2, 0, 3)
			st, err := o1.State()
			if err != nil {
				t.Fatal(err)
			}
			if len(st) == 0 {
				t.Fatal("empty state after 3 steps")
			}
			var buf bytes.Buffer
			sd := map[string]*nn.Tensor{"p": p2, "q": q2}
			for k, v := range st {
				sd["optim."+k] = v
			}
			if err := checkpoint.Write(&buf, sd, checkpoint.SaveOptions{Format: checkpoint.FormatSafetensors}); err != nil {
				t.Fatal(err)
			}
			ck, err := checkpoint.Read(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), checkpoint.Options{})
			if err != nil {
				t.Fatal(err)
			}
			p3, q3 := ck.Tensors["p"], ck.Tensors["q"]
			p3.SetRequiresGrad(true)
			q3.SetRequiresGrad(true)
			restored := map[string]*nn.Tensor{}
			for k, v := range ck.Tensors {
				if k != "p" && k != "q" {
					restored[k[len("optim."):]] = v
				}
			}
			o2, _ := mk([]*nn.Tensor{p3, q3})
			if err := o2.SetState(restored); err != nil {
				t.Fatal(err)
			}
			trainSteps(t, o2, p3, q3, 3, 7)
			for i, w := range append(append([]float32{}, p.Data...), q.Data...) {
				got := append(append([]float32{}, p3.Data...), q3.Data...)[i]
				if math.Float32bits(got) != math.Float32bits(w) {
					t.Fatalf("value %d: resumed %v, uninterrupted %v", i, got, w)
				}
			}
			// Without the state the resumed run differs (the test can fail).
			p4, q4 := newPQ()
			o4, _ := mk([]*nn.Tensor{p4, q4})
			trainSteps(t, o4, p4, q4, 0, 3)
			o5, _ := mk([]*nn.Tensor{p4, q4})
			trainSteps(t, o5, p4, q4, 3, 7)
			if p4.Data[0] == p.Data[0] && p4.Data[1] == p.Data[1] && p4.Data[2] == p.Data[2] {
				t.Fatal("a fresh optimizer gave the same result: the test cannot tell")
			}
		})
	}
}

func TestSetStateRejects(t *testing.T) {
	p, q := newPQ()
	a, _ := NewAdamW([]*nn.Tensor{p, q}, AdamOptions{LR: 0.1})
	trainSteps(t, a, p, q, 0, 2)
	good, err := a.State()
	if err != nil {
		t.Fatal(err)
	}
	if len(good) != 6 {
		t.Fatalf("state has %d entries, want 6 (two parameters × exp_avg, exp_avg_sq, step)", len(good))
	}
	if got := good["0.step"].Data[0]; got != 2 {
		t.Fatalf("step of p = %v, want 2", got)
	}
	if got := good["1.step"].Data[0]; got != 1 {
		t.Fatalf("step of q = %v, want 1", got)
	}
	bad := func(mod func(map[string]*nn.Tensor)) map[string]*nn.Tensor {
		c := map[string]*nn.Tensor{}
		for k, v := range good {
			c[k] = v.Clone()
		}
		mod(c)
		return c
	}
	cases := map[string]map[string]*nn.Tensor{
		"unknown field": bad(func(c map[string]*nn.Tensor) { c["0.momentum_buffer"] = nn.NewTensor(3) }),
		"index too big": bad(func(c map[string]*nn.Tensor) { c["2.step"] = nn.NewTensor(1) }),
		"not an index":  bad(func(c map[string]*nn.Tensor) { c["x.step"] = nn.NewTensor(1) }),
		"wrong shape":   bad(func(c map[string]*nn.Tensor) { c["1.exp_avg"] = nn.NewTensor(3) }),
		"missing part":  bad(func(c map[string]*nn.Tensor) { delete(c, "1.exp_avg_sq") }),
		"bad step":      bad(func(c map[string]*nn.Tensor) { c["0.step"].Data[0] = 1.5 }),
		"zero step":     bad(func(c map[string]*nn.Tensor) { c["0.step"].Data[0] = 0 }),
	}
	before := a.m[0][0]
	for name, st := range cases {
		if err := a.SetState(st); !errors.Is(err, ErrInput) {
			t.Errorf("%s: err = %v, want ErrInput", name, err)
		}
	}
	if a.m[0][0] != before || a.step[0] != 2 {
		t.Fatal("a refused state changed the optimizer")
	}
	s, _ := NewSGD([]*nn.Tensor{p, q}, SGDOptions{LR: 0.1, Momentum: 0.9})
	if err := s.SetState(good); !errors.Is(err, ErrInput) {
		t.Errorf("SGD accepted Adam's state: %v", err)
	}
}
