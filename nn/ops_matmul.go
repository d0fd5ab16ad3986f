package nn

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/gemm"
)

// MatMul multiplies the last two dimensions: a [..., m, k] × b [..., k, n]
// → [..., m, n]. Leading (batch) dimensions must agree, or b may be 2-D
// and is then shared by every batch entry. o.TransA / o.TransB use the
// transposes of the last two dimensions of a and b.
func (g *Graph) MatMul(a, b *Tensor, o MatMulOptions) *Tensor {
	transA, transB := o.TransA, o.TransB
	if g.bad() || g.refuseBF16("MatMul", a) || g.refuseBF16("MatMul", b) {
		return g.dead
	}
	if len(a.Shape) < 2 || len(b.Shape) < 2 {
		return g.fail("MatMul needs at least 2-D operands, got %v and %v", a.Shape, b.Shape)
	}
	na, nb := len(a.Shape), len(b.Shape)
	m, k := a.Shape[na-2], a.Shape[na-1]
	if transA {
		m, k = k, m
	}
	kb, n := b.Shape[nb-2], b.Shape[nb-1]
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		return g.fail("MatMul: inner sizes differ: %v × %v (transA=%v transB=%v)", a.Shape, b.Shape, transA, transB)
	}
	batch := len(a.Data) / max(m*k, 1)
	shared := nb == 2
	if !shared && !SameShape(a.Shape[:na-2], b.Shape[:nb-2]) {
		return g.fail("MatMul: batch dimensions differ: %v × %v", a.Shape, b.Shape)
	}
	shape := append(append([]int(nil), a.Shape[:na-2]...), m, n)
	out := g.alloc(shape...)
	lda, ldb := a.Shape[na-1], b.Shape[nb-1]
	bStride := k * n
	if shared {
		bStride = 0
	}
	if shared && !transA {
		sgemm(false, transB, batch*m, n, k, 1, a.Data, lda, b.Data, ldb, 0, out.Data, n)
	} else {
		for i := 0; i < batch; i++ {
			sgemm(transA, transB, m, n, k, 1, a.Data[i*m*k:], lda, b.Data[i*bStride:], ldb, 0, out.Data[i*m*n:], n)
		}
	}
	if g.rec(a, b) {
		g.record(out, func(gout []float32) {
			if ga, fresh := g.gradBuf(a); ga != nil {
				beta := beta(fresh)
				for i := 0; i < batch; i++ {
					gi, bi := gout[i*m*n:], b.Data[i*bStride:]
					if transA { // ga[k,m] = B · goutᵀ
						sgemm(transB, true, k, m, n, 1, bi, ldb, gi, n, beta, ga[i*m*k:], lda)
					} else { // ga[m,k] = gout · Bᵀ
						sgemm(false, !transB, m, k, n, 1, gi, n, bi, ldb, beta, ga[i*m*k:], lda)
					}
				}
			}
			if gb, fresh := g.gradBuf(b); gb != nil {
				for i := 0; i < batch; i++ {
					bt := beta(fresh && (i == 0 || !shared))
					gi, ai := gout[i*m*n:], a.Data[i*m*k:]
					dst := gb[i*bStride:]
					if transB { // gb[n,k] = goutᵀ · A
						sgemm(true, transA, n, k, m, 1, gi, n, ai, lda, bt, dst, ldb)
					} else { // gb[k,n] = Aᵀ · gout
						sgemm(!transA, false, k, n, m, 1, ai, lda, gi, n, bt, dst, ldb)
					}
				}
			}
		})
	}
	return out
}

// MatMulOptions configures Graph.MatMul; the zero value multiplies a·b.
type MatMulOptions struct {
	// TransA and TransB use the transposes of the last two dimensions of
	// a and b (torch: a.transpose(-2, -1) @ b).
	TransA, TransB bool
}

// beta is the GEMM accumulation factor: overwrite a fresh gradient, add
// into an existing one.
func beta(fresh bool) float32 {
	if fresh {
		return 0
	}
	return 1
}

// Linear computes x·Wᵀ + b over the last dimension of x (PyTorch layout:
// w is [out, in], b is [out] or nil). Its packed weights (bfloat16
// inference) live in the graph; the Linear layer keeps them across graphs.
func (g *Graph) Linear(x, w, b *Tensor) *Tensor { return g.linear(x, w, b, nil) }

func (g *Graph) linear(x, w, b *Tensor, pc *packCache) *Tensor {
	if g.bad() || g.refuseBF16("Linear input", x) || g.refuseBF16("Linear bias", b) || (w.bf == nil && g.refuseBF16("Linear weight", w)) {
		return g.dead
	}
	if w.bf != nil && g.Recording() {
		return g.SetErr(fmt.Errorf("%w: Linear with a weight %v held in bfloat16 only (ConvertBF16) in a recording graph: converted models are inference-only", ErrBF16, w.Shape))
	}
	nd := len(x.Shape)
	if nd == 0 || len(w.Shape) != 2 || x.Shape[nd-1] != w.Shape[1] {
		return g.fail("Linear: input %v does not match weight %v (want [..., %d])", x.Shape, w.Shape, w.Shape[len(w.Shape)-1])
	}
	in, outF := w.Shape[1], w.Shape[0]
	if b != nil && len(b.Data) != outF {
		return g.fail("Linear: bias of %d values for %d outputs", len(b.Data), outF)
	}
	rows := len(x.Data) / max(in, 1)
	var sb [8]int
	shape := append(append(sb[:0], x.Shape[:nd-1]...), outF)
	out := g.alloc(shape...)
	if err := g.linearProduct(x, w, b, rows, in, outF, out, pc); err != nil {
		return g.fail("Linear: %v", err)
	}
	ins := [3]*Tensor{x, w, b}
	if b == nil {
		ins[2] = x
	}
	if g.rec(ins[:]...) {
		g.record(out, func(gout []float32) {
			if gx, fresh := g.gradBuf(x); gx != nil {
				sgemm(false, false, rows, in, outF, 1, gout, outF, w.Data, in, beta(fresh), gx, in)
			}
			if gw, fresh := g.gradBuf(w); gw != nil {
				sgemm(true, false, outF, in, rows, 1, gout, outF, x.Data, in, beta(fresh), gw, in)
			}
			if b != nil {
				if gb := g.gradAcc(b); gb != nil {
					for r := 0; r < rows; r++ {
						for j, v := range gout[r*outF : (r+1)*outF] {
							gb[j] += v
						}
					}
				}
			}
		})
	}
	return out
}

// linearProduct computes out = x·Wᵀ + b (b may be nil), in bfloat16 on an
// Options.BF16 inference graph. The bias is the GEMM's fused epilogue and
// C is overwritten (beta 0), which lets the GEMM read W in place instead
// of packing it (internal/gemm's weights-stationary scheme).
func (g *Graph) linearProduct(x, w, b *Tensor, rows, in, outF int, out *Tensor, pc *packCache) error {
	var ep *gemm.Epilogue
	if b != nil || g.linFuse.Residual != nil || g.linFuse.Act != gemm.None {
		g.linEp = g.linFuse // LinearAct's residual and activation
		if b != nil {
			g.linEp.Bias = b.Data
		}
		ep = &g.linEp
		defer func() { g.linEp = gemm.Epilogue{} }()
	}
	if w.bf != nil { // converted by ConvertBF16 (bf16_resident.go)
		if rows > 0 && outF > 0 {
			g.linearBF16(x, w, rows, in, outF, out, ep)
		}
		return nil
	}
	if !g.bf16 || rows == 0 || outF == 0 {
		gemm.SgemmEx(false, true, rows, outF, in, 1, x.Data, in, w.Data, in, 0, out.Data, outF, ep)
		return nil
	}
	if streamBF16(w) {
		gemm.SgemmBF16(false, true, rows, outF, in, 1, x.Data, in, w.Data, in, 0, out.Data, outF, ep)
		return nil
	}
	pb, err := g.packs(pc).packedWeightBF16(w)
	if err != nil {
		return err
	}
	gemm.SgemmBF16PackedB(false, rows, 1, x.Data, in, pb, 0, out.Data, outF, ep)
	return nil
}

// streamBF16Min is the weight size (values) from which a bfloat16 Linear
// rounds its weights on every call instead of keeping a packed bfloat16
// copy, which would add half their float32 size again: +1 GB for the 2 GB
// LaMIM encoder, +170 MB for ViT-B/16 (whose peak would then exceed ONNX
// Runtime's), both of whose Linear layers are all above it. The rounding
// streams the float32 weights once per call (8 % of a LaMIM forward pass
// on AVX512_BF16). Small layers (classification heads), where a call may
// multiply a single row, keep their packs. A model converted by
// ConvertBF16 pays neither: its weights exist only as bfloat16 packs.
const streamBF16Min = 1 << 18

// streamBF16 reports whether a bfloat16 Linear with weight w rounds it
// per call (see streamBF16Min). Not where the AMX tile unit multiplies
// packed weights: it is several times faster than the VDPBF16PS kernel of
// the per-call rounding, worth the memory.
func streamBF16(w *Tensor) bool { return len(w.Data) >= streamBF16Min && !gemm.UsesAMX() }
