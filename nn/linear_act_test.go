package nn

import (
	"fmt"
	"math"
	"testing"
)

// TestLinearActEqualsComposition checks the fused residual and GELU of
// LinearAct against Linear, Add and GELU run separately, on an inference
// graph (fused into the GEMM: the weights-stationary scheme for few rows,
// the blocked one above its 512 rows), with and without bias, odd sizes,
// a NaN in the residual (it must propagate to its element only) and both
// thread counts.
func TestLinearActEqualsComposition(t *testing.T) {
	r := NewRNG(3)
	defer SetThreads(0)
	for _, threads := range []int{1, 2} {
		SetThreads(threads)
		for _, s := range [][3]int{{1, 1, 5}, {7, 33, 19}, {216, 97, 130}, {600, 70, 45}} {
			rows, in, out := s[0], s[1], s[2]
			x := randT(r, 1, rows, in)
			w := randT(r, out, in)
			res := randT(r, 1, rows, out)
			res.Data[len(res.Data)/2] = float32(math.NaN())
			for _, bias := range []*Tensor{nil, randT(r, out)} {
				for _, a := range []LinearAct{{GELU: true}, {Residual: res}, {Residual: res, GELU: true}} {
					name := fmt.Sprintf("threads %d %v bias %v gelu %v residual %v", threads, s, bias != nil, a.GELU, a.Residual != nil)
					g := NewGraph(Options{Arena: NewArena()})
					got := g.LinearAct(x, w, bias, a)
					want := g.applyLinearAct(g.Linear(x, w, bias), a)
					if err := g.Err(); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if !SameShape(got.Shape, want.Shape) {
						t.Fatalf("%s: shape %v, want %v", name, got.Shape, want.Shape)
					}
					for i := range want.Data {
						gv, wv := float64(got.Data[i]), float64(want.Data[i])
						if math.IsNaN(wv) != math.IsNaN(gv) || math.Abs(gv-wv) > 1e-5*(1+math.Abs(wv)) {
							t.Fatalf("%s: element %d = %v, want %v", name, i, gv, wv)
						}
					}
				}
			}
		}
	}
}

// TestGradLinearAct checks the gradients of LinearAct (recorded as the
// unfused operations) against finite differences of its fused forward
// pass, and Linear.ForwardAct and MultiHeadAttention.ForwardAct against
// their unfused compositions.
func TestGradLinearAct(t *testing.T) {
	r := NewRNG(4)
	x, w, b, res := randT(r, 2, 3, 5), randT(r, 4, 5), randT(r, 4), randT(r, 2, 3, 4)
	gradCheck(t, "LinearAct", []*Tensor{x, w, b, res}, func(g *Graph, in []*Tensor) *Tensor {
		return g.LinearAct(in[0], in[1], in[2], LinearAct{Residual: in[3], GELU: true})
	})
	l := NewLinear(5, 4, LinearOptions{}, r)
	g := NewGraph(Options{})
	if d := maxDiff(l.ForwardAct(g, x, LinearAct{Residual: res}).Data, g.Add(l.Forward(g, x), res).Data); d > 1e-6 {
		t.Errorf("Linear.ForwardAct differs from Forward + residual by %g", d)
	}
	m, err := NewMultiHeadAttention(8, 2, AttentionOptions{}, r)
	if err != nil {
		t.Fatal(err)
	}
	xa, ra := randT(r, 1, 6, 8), randT(r, 1, 6, 8)
	if d := maxDiff(m.ForwardAct(g, xa, LinearAct{Residual: ra}).Data, g.Add(m.Forward(g, xa), ra).Data); d > 1e-6 {
		t.Errorf("MultiHeadAttention.ForwardAct differs from Forward + residual by %g", d)
	}
	gradCheck(t, "MultiHeadAttention.ForwardAct", []*Tensor{xa, ra}, func(g *Graph, in []*Tensor) *Tensor {
		return m.ForwardAct(g, in[0], LinearAct{Residual: in[1]})
	})
	m.Training, m.DropoutRate = true, 0.5 // the unfused training path
	gd := NewGraph(Options{RNG: NewRNG(1)})
	got := m.ForwardAct(gd, xa, LinearAct{Residual: ra, GELU: true})
	gd2 := NewGraph(Options{RNG: NewRNG(1)})
	want := gd2.GELU(gd2.Add(m.Forward(gd2, xa), ra))
	if d := maxDiff(got.Data, want.Data); gd.Err() != nil || d > 1e-6 {
		t.Errorf("training ForwardAct: err %v, differs by %g", gd.Err(), d)
	}
}

// TestLinearActErrors: a residual of the wrong shape is refused with an
// error (never a panic) on inference and recording graphs alike, and so
// is a weight that does not match the input.
func TestLinearActErrors(t *testing.T) {
	r := NewRNG(5)
	x, w := randT(r, 2, 3, 5), randT(r, 4, 5)
	for _, bad := range []*Tensor{randT(r, 2, 3, 5), randT(r, 3, 2, 4), randT(r, 6, 4), randT(r, 1, 3, 4)} {
		for _, grad := range []bool{false, true} {
			g := NewGraph(Options{Grad: grad})
			y := g.LinearAct(x, w, nil, LinearAct{Residual: bad})
			if g.Err() == nil || y == nil {
				t.Errorf("residual %v (grad %v) accepted", bad.Shape, grad)
			}
		}
	}
	g := NewGraph(Options{})
	g.LinearAct(x, randT(r, 4, 6), nil, LinearAct{GELU: true})
	if err := g.Err(); err == nil {
		t.Error("mismatched weight accepted")
	}
}

// TestLinearActFuses: on an inference graph the fused forms allocate one
// output (no tensors for the unfused sum and activation) and nothing from
// the Go heap per pass.
func TestLinearActFuses(t *testing.T) {
	r := NewRNG(6)
	l := NewLinear(32, 48, LinearOptions{}, r)
	m, err := NewMultiHeadAttention(48, 4, AttentionOptions{}, r)
	if err != nil {
		t.Fatal(err)
	}
	x := randT(r, 1, 20, 32)
	g := NewGraph(Options{Arena: NewArena()})
	run := func() {
		g.Reset()
		h := l.ForwardAct(g, x, LinearAct{GELU: true})
		m.ForwardAct(g, h, LinearAct{Residual: h})
	}
	a := NewArena()
	g1 := NewGraph(Options{Arena: a})
	l.ForwardAct(g1, x, LinearAct{GELU: true, Residual: randT(r, 1, 20, 48)})
	if got, want := a.Bytes(), int64(4*20*48); got != want {
		t.Errorf("fused Linear used %d arena bytes, want %d (one output)", got, want)
	}
	run()
	if allocs := testing.AllocsPerRun(5, run); allocs != 0 || g.Err() != nil {
		t.Errorf("%v allocations per pass (err %v), want 0", allocs, g.Err())
	}
}
