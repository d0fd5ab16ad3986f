package nn

import "testing"

// Binary operations on random broadcastable shapes equal a per-element
// reference that maps every output index back to its operands.
func TestBroadcastMatchesReference(t *testing.T) {
	r := NewRNG(31)
	for trial := 0; trial < 200; trial++ {
		nd := 1 + r.IntN(4)
		out := make([]int, nd)
		for i := range out {
			out[i] = 1 + r.IntN(4)
		}
		operand := func() []int {
			k := nd - r.IntN(nd) // drop leading dims sometimes
			s := append([]int(nil), out[nd-k:]...)
			for i := range s {
				if r.IntN(3) == 0 {
					s[i] = 1
				}
			}
			return s
		}
		as, bs := operand(), operand()
		a, b := randT(r, as...), randT(r, bs...)
		op := binOp(r.IntN(4))
		g := NewGraph(Options{})
		if op == opDiv {
			b = g.AddScalar(g.Abs(b), 0.5)
		}
		got := g.binary(a, b, op)
		if g.Err() != nil {
			t.Fatal(g.Err())
		}
		idx := make([]int, len(got.Shape))
		for flat := range got.Data {
			rem := flat
			for d := len(idx) - 1; d >= 0; d-- {
				idx[d] = rem % got.Shape[d]
				rem /= got.Shape[d]
			}
			x, y := at(a, idx), at(b, idx)
			var want float32
			switch op {
			case opAdd:
				want = x + y
			case opSub:
				want = x - y
			case opMul:
				want = x * y
			case opDiv:
				want = x / y
			}
			if got.Data[flat] != want {
				t.Fatalf("%v op%d %v: out%v = %v, want %v", as, op, bs, idx, got.Data[flat], want)
			}
		}
	}
}

// at reads t at the broadcast of output index idx.
func at(t *Tensor, idx []int) float32 {
	off, stride := 0, 1
	for d := len(t.Shape) - 1; d >= 0; d-- {
		i := idx[len(idx)-len(t.Shape)+d]
		if t.Shape[d] == 1 {
			i = 0
		}
		off += i * stride
		stride *= t.Shape[d]
	}
	return t.Data[off]
}
