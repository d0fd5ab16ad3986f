package nn

import (
	"errors"
	"math"
	"testing"
)

// Graph.View shares memory both ways and its gradient lands in its range
// of the source (twice viewed: accumulated); out-of-range views fail.
func TestView(t *testing.T) {
	r := NewRNG(4)
	x := randT(r, 2, 3, 4)
	g := NewGraph(Options{Arena: NewArena()})
	v := g.View(x, 5, 1, 2, 3)
	if g.Err() != nil || !SameShape(v.Shape, []int{1, 2, 3}) || &v.Data[0] != &x.Data[5] {
		t.Fatalf("view %v (err %v) does not share x's values from offset 5", v.Shape, g.Err())
	}
	v.Data[0] = 42
	if x.Data[5] != 42 {
		t.Error("a write through the view is not seen by x")
	}
	gradCheck(t, "view", []*Tensor{randT(r, 2, 3, 4)}, func(g *Graph, in []*Tensor) *Tensor {
		a := g.View(in[0], 3, 2, 5)
		b := g.View(in[0], 8, 10)
		return g.Add(g.Mul(a, a), g.Reshape(b, 2, 5))
	})
	for _, c := range []struct {
		off   int
		shape []int
	}{{20, []int{5}}, {-1, []int{2}}, {0, []int{25}}, {0, []int{-2, 3}}} {
		g := NewGraph(Options{})
		g.View(x, c.off, c.shape...)
		if !errors.Is(g.Err(), ErrShape) {
			t.Errorf("View(offset %d, %v): err %v, want ErrShape", c.off, c.shape, g.Err())
		}
	}
}

// ActOptions.Into writes the result of BatchNorm (also in place, also
// pooled) and Conv3d (also pooled) where it is told, with the values of
// the allocating call; a recording graph refuses it, a wrong shape fails.
func TestActInto(t *testing.T) {
	r := NewRNG(8)
	x := NewTensor(1, 3, 6, 5, 4)
	InitNormal(x, 0.5, 2, r)
	bn := NewBatchNorm3d(3)
	InitNormal(bn.Weight, 0, 1, r)
	InitNormal(bn.RunningMean, 0, 1, r)
	InitUniform(bn.RunningVar, 0.5, 2, r)
	bn.SetTraining(false)
	conv := NewConv3d(3, 2, Cube(3), ConvOptions{Padding: Cube(1)}, r)
	avg := &PoolOptions{Kernel: Cube(2)}
	cases := []struct {
		name string
		f    func(g *Graph, a ActOptions) *Tensor
	}{
		{"bn", func(g *Graph, a ActOptions) *Tensor { a.ReLU = true; return bn.ForwardAct(g, x, a) }},
		{"bn_avgpool", func(g *Graph, a ActOptions) *Tensor { a.AvgPool = avg; return bn.ForwardAct(g, x, a) }},
		{"conv", func(g *Graph, a ActOptions) *Tensor { a.ReLU = true; return conv.ForwardAct(g, x, a) }},
		{"conv_avgpool", func(g *Graph, a ActOptions) *Tensor { a.AvgPool = avg; return conv.ForwardAct(g, x, a) }},
	}
	for _, c := range cases {
		g := NewGraph(Options{Arena: NewArena()})
		want := c.f(g, ActOptions{}).Clone()
		buf := NewTensor(len(want.Data) + 7)
		into := g.View(buf, 7, want.Shape...)
		got := c.f(g, ActOptions{Into: into})
		if g.Err() != nil || got != into {
			t.Fatalf("%s: err %v; result is Into: %v", c.name, g.Err(), got == into)
		}
		if d := maxDiff(got.Data, want.Data); d != 0 {
			t.Errorf("%s: Into differs from the allocated result by %g", c.name, d)
		}
		wrong := NewTensor(len(want.Data))
		c.f(g, ActOptions{Into: wrong})
		if !errors.Is(g.Err(), ErrShape) {
			t.Errorf("%s: Into of shape %v: err %v, want ErrShape", c.name, wrong.Shape, g.Err())
		}
		gr := NewGraph(Options{Grad: true})
		c.f(gr, ActOptions{Into: want})
		if !errors.Is(gr.Err(), ErrInput) {
			t.Errorf("%s: Into on a recording graph: err %v, want ErrInput", c.name, gr.Err())
		}
	}
	// BatchNorm in place.
	g := NewGraph(Options{})
	want := bn.ForwardAct(g, x, ActOptions{ReLU: true})
	y := x.Clone()
	bn.ForwardAct(g, y, ActOptions{ReLU: true, Into: y})
	if d := maxDiff(y.Data, want.Data); g.Err() != nil || d != 0 {
		t.Errorf("in-place BatchNorm: err %v, differs by %g", g.Err(), d)
	}
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}
