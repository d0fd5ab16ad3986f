package gemm

import (
	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/parallel"
)

// Two products in a row, y = ep2(h·W2ᵀ) with h = ep1(x·W1ᵀ): a
// transformer's MLP (fc1 with bias and GELU, then fc2 with bias and the
// residual), at inference. In both weights-stationary schemes the first
// product ends with its Cᵀ tiles (outputs × tokens) in a worker buffer,
// and the second starts by packing xᵀ = hᵀ into k-major slivers of
// tokens: the same orientation. Handed over directly, h is never stored:
// the first product's transpose into C (216×3072 floats at ViT-B, written
// to memory) and the second's read, rounding and transpose of it are
// replaced by one pass over each Cᵀ tile while it is in L2 (a copy of 32-
// float rows in float32, a rounding into bfloat16 pairs in bfloat16).
// The values are those of the two calls: the epilogue is applied to Cᵀ
// as the bfloat16 scheme already does (per-output bias), and the packed
// xᵀ holds the same bits the second call would have packed.

// PairApplies reports whether SgemmPair (bf16 false) or SgemmBF16Pair
// (bf16 true) runs the fused scheme for m rows of x, h hidden and n
// output columns on this machine. The callers (nn's Linear.ForwardPair)
// ask before they allocate the output, so that a product the scheme does
// not take costs nothing more than the two calls.
func PairApplies(m, h, n int, bf16 bool) bool {
	if !pairFuse || m <= 0 || h <= 0 || n <= 0 {
		return false
	}
	return SourceApplies(m, h, bf16) && SourceApplies(m, n, bf16)
}

// pairScheme reports whether the float32 weights-stationary scheme runs
// at this level with 32-token slivers (the layout putXT writes).
func pairScheme() bool {
	bl := blockingFor(cpu.Current())
	return bl.rowsA != nil && avx512Asm() && bl.nr == 32
}

// pairFuse lets PairApplies take the fused scheme (tests compare).
var pairFuse = true

// pairEpilogue reports whether ep1 can run on the first product's Cᵀ:
// per-column bias and activation only.
func pairEpilogue(ep1 *Epilogue) bool {
	return ep1 == nil || (ep1.Residual == nil && !ep1.BiasPerRow)
}

// checkPair panics on inconsistent arguments, like SgemmEx.
func checkPair(m, k, h, n int, x []float32, ldx int, w1 []float32, ep1 *Epilogue, w2 []float32, c []float32, ldc int, ep2 *Epilogue) {
	checkDims(m, h, k)
	checkDims(m, n, h)
	checkMatrix("x", "ldx", false, m, k, x, ldx)
	checkMatrix("W1", "k", true, k, h, w1, k)
	checkMatrix("W2", "h", true, h, n, w2, h)
	checkMatrix("C", "ldc", false, m, n, c, ldc)
	checkEpilogue(ep1, m, h, h)
	checkEpilogue(ep2, m, n, ldc)
}

// SgemmPair computes C (m×n, stride ldc) = ep2(h·W2ᵀ) with h = ep1(x·W1ᵀ)
// (x m×k, stride ldx; W1 h×k and W2 n×h, rows contiguous), with the bits
// of SgemmEx(false, true, m, h, k, 1, x, ldx, W1, k, 0, h, h, ep1)
// followed by SgemmEx(false, true, m, n, h, 1, h, h, W2, h, 0, C, ldc,
// ep2), but without storing h. ep1 may hold a bias and an activation only.
// It returns false, having done nothing, when PairApplies(m, h, n, false)
// is false or ep1 has a residual; it panics on invalid arguments.
func SgemmPair(m, k, h, n int, x []float32, ldx int, w1 []float32, ep1 *Epilogue, w2 []float32, c []float32, ldc int, ep2 *Epilogue) bool {
	if !PairApplies(m, h, n, false) || k == 0 || !pairEpilogue(ep1) {
		return false
	}
	checkPair(m, k, h, n, x, ldx, w1, ep1, w2, c, ldc, ep2)
	bl := blockingFor(cpu.Current())
	j1, j2 := getJob(), getJob()
	j1.op = operands{transB: true, m: m, n: h, k: k, alpha: 1, a: x, lda: ldx, b: w1, ldb: k, ldc: h, ep: ep1}
	j2.op = operands{transB: true, m: m, n: n, k: h, alpha: 1, b: w2, ldb: h, c: c, ldc: ldc, ep: ep2}
	j1.bl, j2.bl = bl, bl
	if !j1.op.useRowsA(bl) || !j2.op.useRowsA(bl) { // PairApplies's conditions: cannot happen
		putJob(j1)
		putJob(j2)
		return false
	}
	w := parallel.Workers()
	j2.setXT()
	j1.setXT()
	j1.packAllXT(w)
	j1.to = j2 // j1's bands write j2's xᵀ instead of C
	j1.runBands(w)
	j1.to = nil
	j2.runBands(w)
	putJob(j1)
	putJob(j2)
	return true
}

// putXT stores the band [r0, r0+rows) of the previous product's Cᵀ
// (ct, rows ldct apart, m tokens) into j's packed xᵀ: ep (bias per
// column of that product, activation) applied on Cᵀ, then each 32-token
// sliver of the band's rows copied into its k block, whose rows are 32
// floats: the layout packXT gives them. The columns from m to mpad are
// copied as they are (the 24-wide tail kernel leaves the last 8 of a
// sliver unwritten), not zeroed as packXT pads: a token of xᵀ only meets
// its own column of the product, and the columns past m are not stored.
func (j *job) putXT(ct []float32, ldct, m int, ep *Epilogue, r0, rows int) {
	if ep != nil {
		applyCT(ep, ct, ldct, m, r0, rows)
	}
	for l := 0; l < rows; {
		o := r0 + l
		k0 := o / j.kc * j.kc
		kb := min(j.kc, j.op.k-k0)
		cnt := min(rows-l, k0+kb-o)
		_ = ct[(l+cnt-1)*ldct+j.mpad-1]
		xt := j.xt[k0*j.mpad : k0*j.mpad+kb*j.mpad]
		for j0 := 0; j0 < j.mpad; j0 += 32 {
			copyRows32(&xt[j0*kb+(o-k0)*32], &ct[l*ldct+j0], ldct, cnt)
		}
		l += cnt
	}
}

// applyCT applies ep (a per-column bias and an activation of C) to the
// band [r0, r0+rows) of Cᵀ: the bias becomes per row. The values are
// those on C (each is the same float op on the same operands).
func applyCT(ep *Epilogue, ct []float32, ldct, m, r0, rows int) {
	ect := Epilogue{Act: ep.Act, BiasPerRow: true}
	if ep.Bias != nil {
		ect.Bias = ep.Bias[r0 : r0+rows]
	}
	ect.applyTile(ct, ldct, 0, 0, rows, m)
}

// SgemmBF16Pair is SgemmPair in bfloat16, with the bits of the two
// SgemmBF16 calls: h is rounded to bfloat16 pairs straight from the first
// product's Cᵀ tiles into the second's packed xᵀ. The one difference: a
// pair whose odd element is ±Inf and even element is not ±0 after
// rounding was, moved as a float32 lane by the unfused transpose, made a
// quiet NaN; here it keeps the infinity. It returns false, having done
// nothing, when PairApplies(m, h, n, true) is false or ep1 has a
// residual.
func SgemmBF16Pair(m, k, h, n int, x []float32, ldx int, w1 []float32, ep1 *Epilogue, w2 []float32, c []float32, ldc int, ep2 *Epilogue) bool {
	if !PairApplies(m, h, n, true) || k == 0 || !pairEpilogue(ep1) {
		return false
	}
	checkPair(m, k, h, n, x, ldx, w1, ep1, w2, c, ldc, ep2)
	op1 := &bfOp{m: m, n: h, k: k, transB: true, alpha: 1, a: x, lda: ldx, b: w1, ldb: k, ldc: h, ep: ep1}
	op2 := &bfOp{m: m, n: n, k: h, transB: true, alpha: 1, b: w2, ldb: h, c: c, ldc: ldc, ep: ep2}
	if !op1.useRowsA() || !op2.useRowsA() { // PairApplies's conditions: cannot happen
		return false
	}
	op1.ks, op2.ks = ceilDiv(k, bfTile), ceilDiv(h, bfTile)
	w1x, w2x := bfPool.Get().(*bfWorker), bfPool.Get().(*bfWorker)
	defer bfPool.Put(w1x)
	defer bfPool.Put(w2x)
	mpad := roundUp(m, bfTile)
	s1 := &bfRowsA{op: op1, mpad: mpad, kp: op1.ks * bfTile / 2}
	s2 := &bfRowsA{op: op2, mpad: mpad, kp: op2.ks * bfTile / 2}
	w1x.b = grow(w1x.b, mpad*s1.kp)
	w2x.b = grow(w2x.b, mpad*s2.kp)
	s1.xt, s2.xt = w1x.b, w2x.b
	// Pairs past h (padding to whole K steps): zero, as roundX leaves them.
	if hp := (h + 1) / 2; hp < s2.kp {
		for sb := range mpad / bfTile {
			clear(s2.xt[(sb*s2.kp+hp)*bfTile : (sb+1)*s2.kp*bfTile])
		}
	}
	s1.to = s2
	s1.roundFn, s1.blockFn = s1.roundX, s1.blocks
	s2.blockFn = s2.blocks
	parallel.ForChunks(mpad/bfTile, 1, s1.roundFn)
	parallel.For(min(parallel.Workers(), ceilDiv(h, bfRowsABand*bfTile)), s1.blockFn)
	parallel.For(min(parallel.Workers(), ceilDiv(n, bfRowsABand*bfTile)), s2.blockFn)
	return true
}

// zeroRow is the odd row of the last pair when the first product has an
// odd number of outputs.
var zeroRow [bfTile]float32

// putXT rounds the band [i0, i0+rows) of the previous product's Cᵀ (ct,
// rows mpad apart, m tokens; i0 even) into s's xᵀ: ep (per-column bias
// and activation of that product) applied on Cᵀ, as blocks does, then
// rows 2p and 2p+1 rounded into the pair row i0/2 + p of each sliver by
// VCVTNE2PS2BF16, the tokens past m read as zero: the pairs roundX makes
// from the stored h.
func (s *bfRowsA) putXT(ct []float32, m int, ep *Epilogue, i0, rows int) {
	ldct := s.mpad
	if ep != nil {
		applyCT(ep, ct, ldct, m, i0, rows)
	}
	np := rows / 2
	_ = ct[(rows-1)*ldct+s.mpad-1]
	for sb := range s.mpad / bfTile {
		tl := min(bfTile, m-sb*bfTile)
		m0, m1 := uint64(1)<<min(tl, 16)-1, uint64(1)<<max(tl-16, 0)-1
		dst := s.xt[(sb*s.kp+i0/2)*bfTile : (sb*s.kp+i0/2+ceilDiv(rows, 2))*bfTile]
		if np > 0 {
			bf16PackPairs(&dst[0], &ct[sb*bfTile], &ct[ldct+sb*bfTile], 2*ldct, np, m0, m1)
		}
		if rows%2 == 1 {
			bf16PackPairs(&dst[np*bfTile], &ct[(rows-1)*ldct+sb*bfTile], &zeroRow[0], 0, 1, m0, m1)
		}
	}
}
