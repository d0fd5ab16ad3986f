package nn

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/metasurv/metasurv/internal/gemm"
)

// tensorRows reads the rows of a stored tensor (rows × in).
type tensorRows struct {
	x  *Tensor
	in int
}

func (s *tensorRows) ReadRow(dst []float32, i, k0 int) {
	copy(dst, s.x.Data[i*s.in+k0:i*s.in+k0+len(dst)])
}

// rowFunc is a RowSource from a function.
type rowFunc func(dst []float32, i, k0 int)

func (f rowFunc) ReadRow(dst []float32, i, k0 int) { f(dst, i, k0) }

// TestLinearRows checks Graph.LinearRows bit for bit against LinearAct of
// the stored input: fused (float32, and Options.BF16 with weights above
// streamBF16Min), with a residual, GELU or nothing, without a bias, on a
// batch of token rows; unfused on a recording graph (same values, the
// weight's gradient recorded); an error for a residual of the wrong shape;
// and no heap allocation per fused float32 pass.
func TestLinearRows(t *testing.T) {
	r := NewRNG(12)
	for it, s := range [][4]int{{2, 45, 1100, 256}, {1, 216, 4096, 300}} {
		batch, tokens, in, out := s[0], s[1], s[2], s[3]
		l := NewLinear(in, out, LinearOptions{NoBias: it == 1}, r)
		x := NewTensor(batch, tokens, in)
		InitNormal(x, 0, 1, r)
		res := NewTensor(batch, tokens, out)
		InitNormal(res, 0, 1, r)
		for _, bf := range []bool{false, true} {
			if bf && !HaveBF16() {
				continue
			}
			if !gemm.SourceApplies(batch*tokens, out, bf) {
				t.Logf("%v bf16 %v: the scheme does not apply on this machine", s, bf)
				continue
			}
			for _, a := range []LinearAct{{Residual: res}, {GELU: true}, {}} {
				g := NewGraph(Options{BF16: bf})
				want := l.ForwardAct(g, x, a)
				got := g.LinearRows(&tensorRows{x, in}, x.Shape, l.Weight, l.Bias, a)
				if err := g.Err(); err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("%v bf16 %v gelu %v", s, bf, a.GELU)
				if !SameShape(got.Shape, want.Shape) {
					t.Fatalf("%s: shape %v, want %v", name, got.Shape, want.Shape)
				}
				for i, v := range want.Data {
					if math.Float32bits(got.Data[i]) != math.Float32bits(v) {
						t.Fatalf("%s: [%d] = %v, stored input %v", name, i, got.Data[i], v)
					}
				}
			}
		}
	}
	l := NewLinear(8, 24, LinearOptions{}, r)
	l.Weight.SetRequiresGrad(true)
	x := NewTensor(3, 8)
	InitNormal(x, 0, 1, r)
	g := NewGraph(Options{Grad: true})
	y := g.LinearRows(&tensorRows{x, 8}, x.Shape, l.Weight, l.Bias, LinearAct{GELU: true})
	want := l.ForwardAct(g, x, LinearAct{GELU: true})
	for i, v := range want.Data {
		if y.Data[i] != v {
			t.Fatalf("recording: [%d] = %v, want %v", i, y.Data[i], v)
		}
	}
	if err := g.Backward(g.Sum(y)); err != nil {
		t.Fatal(err)
	}
	if l.Weight.Grad() == nil {
		t.Fatal("recording: no gradient for the weight")
	}
	g = NewGraph(Options{})
	if g.LinearRows(&tensorRows{x, 8}, x.Shape, l.Weight, l.Bias, LinearAct{Residual: NewTensor(3, 7)}); g.Err() == nil {
		t.Fatal("a residual of the wrong shape was accepted")
	}
	if l := NewLinear(512, 96, LinearOptions{}, r); gemm.SourceApplies(40, 96, false) && !raceEnabled {
		x := NewTensor(40, 512)
		InitNormal(x, 0, 1, r)
		src := &tensorRows{x, 512}
		g := NewGraph(Options{Arena: NewArena()})
		run := func() {
			g.Reset()
			g.LinearRows(src, x.Shape, l.Weight, l.Bias, LinearAct{GELU: true})
		}
		run()
		if allocs := testing.AllocsPerRun(5, run); allocs != 0 || g.Err() != nil {
			t.Errorf("%v allocations per fused pass (err %v), want 0", allocs, g.Err())
		}
	}
}

// TestLinearRowsRefusesBadArguments checks that a nil source, an empty,
// negative or overflowing shape, and an input width that is not the
// weight's fail the graph with ErrShape instead of panicking.
func TestLinearRowsRefusesBadArguments(t *testing.T) {
	w := NewTensor(8, 4)
	src := rowFunc(func(dst []float32, i, k0 int) { clear(dst) })
	for _, c := range []struct {
		name  string
		src   RowSource
		shape []int
	}{
		{"nil source", nil, []int{3, 4}},
		{"empty shape", src, nil},
		{"negative extent", src, []int{-3, 4}},
		{"overflow", src, []int{1 << 40, 1 << 40, 4}},
		{"wrong width", src, []int{3, 5}},
	} {
		g := NewGraph(Options{})
		g.LinearRows(c.src, c.shape, w, nil, LinearAct{})
		if err := g.Err(); !errors.Is(err, ErrShape) {
			t.Errorf("%s: error %v, want ErrShape", c.name, err)
		}
	}
}
