package nn

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// PyTorch 1.13's numbers, printed by testdata/torch_reference.py
// (cross_entropy, bce_with_logits); TestTorchReferenceScript checks that
// the script still produces them.
var (
	ceTorchLoss = 0.9061029553413391
	ceTorchGrad = []float64{0.08469592779874802, -0.012575700879096985, -0.07212025672197342, -0.03178835287690163,
		0.0359274223446846, -0.0041390638798475266, 0, 0, 0, 0.14722220599651337, -0.2777777910232544, 0.13055554032325745}
	bceTorchLoss = 1.0461547374725342
	bceTorchGrad = []float64{-0.28315550088882446, 0.06723535805940628, 0.22019925713539124, -0.059377603232860565}
)

// Reference from PyTorch 1.13 (python3-torch):
//
//	x = [[1,-.5,2],[.3,.2,-1],[-2,1.5,.5],[0,0,0]]; y = [2,0,-100,1]
//	F.cross_entropy(x, y, weight=[.5,2,1.5], label_smoothing=.2, ignore_index=-100)
//	-> ceTorchLoss, and x.grad after backward ceTorchGrad.
func TestCrossEntropyPyTorch(t *testing.T) {
	x, _ := FromData([]float32{1, -.5, 2, .3, .2, -1, -2, 1.5, .5, 0, 0, 0}, 4, 3)
	x.SetRequiresGrad(true)
	g := NewGraph(Options{Grad: true})
	l := g.CrossEntropy(x, []int{2, 0, -100, 1}, CEOptions{Weight: []float32{.5, 2, 1.5}, LabelSmoothing: .2})
	if err := g.Backward(l); err != nil {
		t.Fatal(err)
	}
	if !near(float64(l.Item()), ceTorchLoss, 1e-6) {
		t.Errorf("loss %v", l.Item())
	}
	for i, w := range ceTorchGrad {
		if !near(float64(x.Grad().Data[i]), w, 1e-6) {
			t.Errorf("grad[%d] = %v, want %v", i, x.Grad().Data[i], w)
		}
	}
}

// Reference from PyTorch 1.13: F.binary_cross_entropy_with_logits(
// [[.5,-1],[2,.1]], [[1,0],[0,1]], pos_weight=[3,.5]) -> bceTorchLoss.
func TestBCEWithLogitsPyTorch(t *testing.T) {
	x, _ := FromData([]float32{.5, -1, 2, .1}, 2, 2)
	x.SetRequiresGrad(true)
	y, _ := FromData([]float32{1, 0, 0, 1}, 2, 2)
	g := NewGraph(Options{Grad: true})
	l := g.BCEWithLogits(x, y, BCEOptions{PosWeight: []float32{3, .5}})
	if err := g.Backward(l); err != nil {
		t.Fatal(err)
	}
	if !near(float64(l.Item()), bceTorchLoss, 1e-6) {
		t.Errorf("loss %v", l.Item())
	}
	for i, w := range bceTorchGrad {
		if !near(float64(x.Grad().Data[i]), w, 1e-6) {
			t.Errorf("grad[%d] = %v, want %v", i, x.Grad().Data[i], w)
		}
	}
}

func TestGradLosses(t *testing.T) {
	r := NewRNG(8)
	tg := []int{1, 0, 2, -1, 2}
	cases := []struct {
		name string
		in   [][]int
		f    func(g *Graph, in []*Tensor) *Tensor
	}{
		{"ce_sum", [][]int{{5, 3}}, func(g *Graph, in []*Tensor) *Tensor {
			return g.CrossEntropy(in[0], tg, CEOptions{Reduction: ReduceSum, LabelSmoothing: 0.1})
		}},
		{"ce_spatial_none", [][]int{{2, 3, 2, 2}}, func(g *Graph, in []*Tensor) *Tensor {
			return g.CrossEntropy(in[0], []int{0, 1, 2, 1, 2, 2, 0, -1}, CEOptions{Reduction: ReduceNone, Weight: []float32{1, 2, 3}})
		}},
		{"focal", [][]int{{5, 3}}, func(g *Graph, in []*Tensor) *Tensor {
			return g.FocalLoss(g.Scale(in[0], 3), tg, FocalOptions{Gamma: 2, Alpha: []float32{.25, .5, .25}})
		}},
		{"bce_none", [][]int{{3, 2}, {3, 2}}, func(g *Graph, in []*Tensor) *Tensor {
			return g.BCEWithLogits(in[0], g.Sigmoid(in[1]), BCEOptions{Reduction: ReduceNone, PosWeight: []float32{2, .5}})
		}},
		{"mse", [][]int{{4, 2}, {4, 2}}, func(g *Graph, in []*Tensor) *Tensor { return g.MSE(in[0], in[1], ReduceMean) }},
	}
	for _, c := range cases {
		ins := make([]*Tensor, len(c.in))
		for i, s := range c.in {
			ins[i] = randT(r, s...)
		}
		gradCheck(t, c.name, ins, c.f)
	}
}

// With γ = 0 and no α the focal loss is the cross-entropy.
func TestFocalGammaZeroIsCE(t *testing.T) {
	r := NewRNG(9)
	x := randT(r, 6, 4)
	tg := []int{0, 3, 1, 2, 2, 1}
	g := NewGraph(Options{})
	a := g.FocalLoss(x, tg, FocalOptions{}).Item()
	b := g.CrossEntropy(x, tg, CEOptions{}).Item()
	if !near(float64(a), float64(b), 1e-6) {
		t.Fatalf("focal(γ=0) %v != CE %v", a, b)
	}
}

func TestLossErrors(t *testing.T) {
	g := NewGraph(Options{})
	g.CrossEntropy(NewTensor(2, 3), []int{0, 3}, CEOptions{})
	if g.Err() == nil {
		t.Error("target out of range accepted")
	}
	g = NewGraph(Options{})
	g.BCEWithLogits(NewTensor(2, 3), NewTensor(3, 2), BCEOptions{})
	if g.Err() == nil {
		t.Error("shape mismatch accepted")
	}
}
