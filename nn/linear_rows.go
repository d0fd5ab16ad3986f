package nn

import (
	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/internal/parallel"
)

// RowSource supplies the rows of a Linear's input that LinearRows need not
// store.
type RowSource interface {
	// ReadRow writes x[i][k0 : k0+len(dst)] of the flattened input
	// (rows × in) into dst. It is called concurrently for different rows.
	ReadRow(dst []float32, i, k0 int)
}

// LinearRows is LinearAct (act(x·Wᵀ + b + a.Residual)) of an input x of
// the given shape [..., in] whose rows src supplies. On a graph that does
// not record, where internal/gemm's weights-stationary scheme runs the
// product (float32 at AVX-512, or Options.BF16 with weights rounded per
// call), x is never stored: each piece is read into a small buffer right
// before the product packs it. A ViT's patch embedding multiplies the
// image's patches so; stored, they are the largest tensor of its pass
// (216 × 16384 floats at ViT-B/16), written to memory and read back once.
// The result has the bits of LinearAct on the stored x. Elsewhere x is
// stored (in parallel) and LinearAct runs on it.
func (g *Graph) LinearRows(src RowSource, shape []int, w, b *Tensor, a LinearAct) *Tensor {
	if g.bad() {
		return g.dead
	}
	nd := len(shape)
	if _, err := numel(shape); err != nil || nd == 0 {
		return g.fail("linear rows: shape %v (want [..., in], each extent ≥ 0, not too large)", shape)
	}
	if src == nil {
		return g.fail("linear rows: no row source for shape %v", shape)
	}
	rows, in := 1, shape[nd-1]
	for _, d := range shape[:nd-1] {
		rows *= d
	}
	if y := g.linearRows(src, shape, rows, in, w, b, a); y != nil {
		return y
	}
	x := g.alloc(shape...)
	if in > 0 && rows > 0 {
		parallel.ForChunks(rows, 8, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				src.ReadRow(x.Data[i*in:(i+1)*in], i, 0)
			}
		})
	}
	return g.LinearAct(x, w, b, a)
}

// linearRows runs LinearRows without storing x, or returns nil (having
// done nothing) where it cannot: LinearAct on the stored x then also
// reports any error.
func (g *Graph) linearRows(src RowSource, shape []int, rows, in int, w, b *Tensor, a LinearAct) *Tensor {
	nd := len(shape)
	if src == nil || g.Recording() || nd == 0 || in == 0 || len(w.Shape) != 2 || w.Shape[1] != in ||
		w.bf != nil || (b != nil && (b.bf != nil || len(b.Data) != w.Shape[0])) {
		return nil
	}
	outF := w.Shape[0]
	var sb [8]int
	oshape := append(append(sb[:0], shape[:nd-1]...), outF)
	if a.Residual != nil && !SameShape(a.Residual.Shape, oshape) {
		return nil
	}
	if (g.bf16 && !streamBF16(w)) || !gemm.SourceApplies(rows, outF, g.bf16) {
		return nil
	}
	g.linEp = a.epilogue(b)
	defer func() { g.linEp = gemm.Epilogue{} }()
	f := gemm.SgemmSource
	if g.bf16 {
		f = gemm.SgemmBF16Source
	}
	out := g.alloc(oshape...)
	if !f(rows, outF, in, src, w.Data, in, out.Data, outF, &g.linEp) {
		return nil // SourceApplies said yes: cannot happen
	}
	return out
}
