package nn

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/metasurv/metasurv/internal/gemm"
)

// TestLinearForwardPair checks Linear.ForwardPair bit for bit against the
// two ForwardAct calls it replaces, in float32 and with Options.BF16
// (weights above streamBF16Min, rounded per call), on a batch of token
// rows (tokens and widths not multiples of 32), without biases, and with
// GELU or a residual on the second layer; it checks that the fused
// scheme applies to those shapes (or the comparison would be of one path
// with itself). On a recording graph ForwardPair runs the two calls:
// same values, and the gradient reaches the first layer's weight.
func TestLinearForwardPair(t *testing.T) {
	r := NewRNG(11)
	for it, s := range [][4]int{{2, 45, 256, 1030}, {1, 216, 300, 1024}} {
		batch, tokens, in, hid := s[0], s[1], s[2], s[3]
		out := in + 4*it
		o := LinearOptions{NoBias: it == 1}
		l1, l2 := NewLinear(in, hid, o, r), NewLinear(hid, out, o, r)
		x := NewTensor(batch, tokens, in)
		InitNormal(x, 0, 1, r)
		res := NewTensor(batch, tokens, out)
		InitNormal(res, 0, 1, r)
		a2s := []LinearAct{{Residual: res}, {GELU: true}, {}}
		for _, bf := range []bool{false, true} {
			if bf && !HaveBF16() {
				continue
			}
			if !gemm.PairApplies(batch*tokens, hid, out, bf) {
				t.Logf("%v bf16 %v: the fused scheme does not apply on this machine", s, bf)
				continue
			}
			for _, a2 := range a2s {
				name := fmt.Sprintf("%v bf16 %v act %+v", s, bf, a2.GELU)
				g := NewGraph(Options{BF16: bf})
				want := l2.ForwardAct(g, l1.ForwardAct(g, x, LinearAct{GELU: true}), a2)
				got := l1.ForwardPair(g, x, LinearAct{GELU: true}, l2, a2)
				if err := g.Err(); err != nil {
					t.Fatal(err)
				}
				if !SameShape(got.Shape, want.Shape) {
					t.Fatalf("%s: shape %v, want %v", name, got.Shape, want.Shape)
				}
				for i, v := range want.Data {
					if math.Float32bits(got.Data[i]) != math.Float32bits(v) {
						t.Fatalf("%s: [%d] = %v fused, %v unfused", name, i, got.Data[i], v)
					}
				}
			}
		}
	}
	// weights converted by ConvertBF16 (gemm.SgemmBF16WPair), more tokens
	// than features too
	if HaveBF16() && !gemm.UsesAMX() {
		for _, s := range [][3]int{{90, 256, 1030}, {300, 40, 70}} {
			rows, in, hid := s[0], s[1], s[2]
			l1, l2 := NewLinear(in, hid, LinearOptions{}, r), NewLinear(hid, in, LinearOptions{}, r)
			for _, l := range []*Linear{l1, l2} {
				if err := ConvertBF16(l); err != nil {
					t.Fatal(err)
				}
			}
			x := NewTensor(rows, in)
			InitNormal(x, 0, 1, r)
			g := NewGraph(Options{BF16: true})
			want := l2.ForwardAct(g, l1.ForwardAct(g, x, LinearAct{GELU: true}), LinearAct{Residual: x})
			got := l1.ForwardPair(g, x, LinearAct{GELU: true}, l2, LinearAct{Residual: x})
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			for i, v := range want.Data {
				if math.Float32bits(got.Data[i]) != math.Float32bits(v) {
					t.Fatalf("converted %v: [%d] = %v fused, %v unfused", s, i, got.Data[i], v)
				}
			}
		}
	}
	// float32 at inference: nothing from the Go heap per pass (not
	// counted under the race detector, whose sync.Pool drops items)
	if l1, l2 := NewLinear(64, 256, LinearOptions{}, r), NewLinear(256, 96, LinearOptions{}, r); gemm.PairApplies(40, 256, 96, false) && !raceEnabled {
		x := NewTensor(40, 64)
		InitNormal(x, 0, 1, r)
		g := NewGraph(Options{Arena: NewArena()})
		run := func() {
			g.Reset()
			l1.ForwardPair(g, x, LinearAct{GELU: true}, l2, LinearAct{Residual: zeros(g, 40, 96)})
		}
		run()
		if allocs := testing.AllocsPerRun(5, run); allocs != 0 || g.Err() != nil {
			t.Errorf("%v allocations per fused pass (err %v), want 0", allocs, g.Err())
		}
	}
	// a recording graph: the unfused calls, differentiable
	l1, l2 := NewLinear(8, 40, LinearOptions{}, r), NewLinear(40, 24, LinearOptions{}, r)
	l1.Weight.SetRequiresGrad(true)
	x := NewTensor(3, 8)
	InitNormal(x, 0, 1, r)
	g := NewGraph(Options{Grad: true})
	y := l1.ForwardPair(g, x, LinearAct{GELU: true}, l2, LinearAct{})
	want := l2.ForwardAct(g, l1.ForwardAct(g, x, LinearAct{GELU: true}), LinearAct{})
	for i, v := range want.Data {
		if y.Data[i] != v {
			t.Fatalf("recording: [%d] = %v, want %v", i, y.Data[i], v)
		}
	}
	if err := g.Backward(g.Sum(y)); err != nil {
		t.Fatal(err)
	}
	if gw := l1.Weight.Grad(); gw == nil {
		t.Fatal("recording: no gradient for the first layer's weight")
	}
	// a residual on the first layer is not fused, and a mismatched one
	// fails the graph as the unfused calls do
	g = NewGraph(Options{})
	bad := NewTensor(3, 7)
	if l1.ForwardPair(g, x, LinearAct{}, l2, LinearAct{Residual: bad}); g.Err() == nil {
		t.Fatal("a residual of the wrong shape was accepted")
	}
}

// zeros is a zero tensor from g's arena.
func zeros(g *Graph, shape ...int) *Tensor {
	r := g.Alloc(shape...)
	clear(r.Data)
	return r
}

// TestLinearForwardPairNilNext checks that a missing second layer fails
// the graph with ErrShape instead of panicking.
func TestLinearForwardPairNilNext(t *testing.T) {
	g := NewGraph(Options{})
	l := NewLinear(4, 8, LinearOptions{}, NewRNG(1))
	l.ForwardPair(g, NewTensor(2, 4), LinearAct{}, nil, LinearAct{})
	if err := g.Err(); !errors.Is(err, ErrShape) {
		t.Fatalf("error %v, want ErrShape", err)
	}
}
