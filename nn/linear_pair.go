package nn

import "github.com/metasurv/metasurv/internal/gemm"

// ForwardPair is next.ForwardAct(g, l.ForwardAct(g, x, a), b): two Linear
// layers in a row, as in a transformer's MLP (fc1 with GELU, fc2 with the
// residual). On a graph that does not record, l's output is never stored
// where internal/gemm can hand it over inside the product: its
// weights-stationary scheme (a few hundred tokens, more hidden and output
// features than tokens; float32 at AVX-512, or Options.BF16 with weights
// rounded per call: gemm.SgemmPair, SgemmBF16Pair), or weights both
// converted by ConvertBF16 under Options.BF16 without AMX
// (gemm.SgemmBF16WPair). The first product's tiles then become the
// second's packed input, which saves a transpose or a rounding pass and a
// write and read of the hidden activations (216×3072 floats per ViT-B
// block). The result has the bits of the unfused calls. a must not have a
// Residual to be fused; everything else (recording graphs, other shapes)
// runs the two calls.
func (l *Linear) ForwardPair(g *Graph, x *Tensor, a LinearAct, next *Linear, b LinearAct) *Tensor {
	if next == nil {
		return g.fail("linear pair: no second layer")
	}
	if y := g.linearPair(x, l, a, next, b); y != nil {
		return y
	}
	return next.ForwardAct(g, l.ForwardAct(g, x, a), b)
}

// linearPair runs ForwardPair fused, or returns nil (having done
// nothing) where it cannot: the unfused calls then also report any error.
func (g *Graph) linearPair(x *Tensor, l1 *Linear, a1 LinearAct, l2 *Linear, a2 LinearAct) *Tensor {
	if g.bad() || g.Recording() || a1.Residual != nil {
		return nil
	}
	w1, w2, b1, b2 := l1.Weight, l2.Weight, l1.Bias, l2.Bias
	nd := len(x.Shape)
	resident := w1.bf != nil && w2.bf != nil // both converted by ConvertBF16
	if nd == 0 || len(w1.Shape) != 2 || len(w2.Shape) != 2 || (!resident && (w1.bf != nil || w2.bf != nil)) || x.bf != nil ||
		(b1 != nil && b1.bf != nil) || (b2 != nil && b2.bf != nil) {
		return nil
	}
	in, hid, outF := w1.Shape[1], w1.Shape[0], w2.Shape[0]
	if x.Shape[nd-1] != in || w2.Shape[1] != hid || in == 0 ||
		(b1 != nil && len(b1.Data) != hid) || (b2 != nil && len(b2.Data) != outF) {
		return nil
	}
	rows := len(x.Data) / in
	var sb [8]int
	shape := append(append(sb[:0], x.Shape[:nd-1]...), outF)
	if a2.Residual != nil && !SameShape(a2.Residual.Shape, shape) {
		return nil
	}
	switch {
	case resident:
		if !g.bf16 || gemm.UsesAMX() || rows == 0 {
			return nil // widened to float32, or the AMX scheme: the two calls
		}
	case g.bf16 && (!streamBF16(w1) || !streamBF16(w2)):
		return nil // packed bfloat16 weights: the two calls
	case !gemm.PairApplies(rows, hid, outF, g.bf16):
		return nil
	}
	ep1, ep2 := &g.pairEp[0], &g.pairEp[1]
	defer func() { g.pairEp = [2]gemm.Epilogue{} }()
	*ep1, *ep2 = a1.epilogue(b1), a2.epilogue(b2)
	pair := gemm.SgemmPair
	if g.bf16 {
		pair = gemm.SgemmBF16Pair
	}
	out := g.alloc(shape...)
	if resident {
		if !gemm.SgemmBF16WPair(rows, x.Data, in, w1.bf, ep1, w2.bf, out.Data, outF, ep2) {
			return nil // checked above: cannot happen
		}
		return out
	}
	if !pair(rows, in, hid, outF, x.Data, in, w1.Data, ep1, w2.Data, out.Data, outF, ep2) {
		return nil // PairApplies said yes: cannot happen
	}
	return out
}
