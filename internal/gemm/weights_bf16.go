package gemm

import (
	"sync"
	"unsafe"

	"github.com/metasurv/metasurv/internal/parallel"
)

// Resident bfloat16 weights. A network converted for bfloat16 inference
// keeps each weight W of y = x·Wᵀ only as bfloat16, packed once as the B
// operand Wᵀ of the BF16 GEMM: slivers of 32 outputs, each k/2 rows of 32
// bfloat16 pairs — the layout both the AMX tile kernel and the VDPBF16PS
// 8×32 kernel read, so a call packs only x (its few rows, rounded into A
// blocks) and writes C directly, with no transpose. A product then
// streams 2 bytes per weight from memory instead of 4, and no weight is
// rounded per call. (On Zen 4 this runs 2–3 % faster per CPU-second than
// the weights-stationary scheme of rowsa_bf16.go, which transposes x and
// the result, on LaMIM's shapes.) SgemmWidenW multiplies the same weights
// in float32 (widened block by block, exactly), for graphs or machines
// without bfloat16 products.

// PackWeightsBF16 rounds the n×k row-major weights w (stride ldw: the
// [out, in] weight of y = x·Wᵀ) to bfloat16 and packs Wᵀ for SgemmBF16W
// and SgemmWidenW. It works on every CPU (the rounding and packing are
// portable Go), so weights can be kept resident in bfloat16 even where
// products cannot run in it. It panics on invalid arguments like Sgemm.
func PackWeightsBF16(n, k int, w []float32, ldw int) *PackedBF16 {
	checkDims(0, n, k)
	checkMatrix("W", "ldw", false, n, k, w, ldw)
	p := &PackedBF16{w: true, m: n, k: k, ks: ceilDiv(k, bfTile)}
	p.b = make([]uint32, ceilDiv(n, bfTile)*p.ks*bfTile*bfTile/2)
	p.packW(w, ldw)
	return p
}

// Repack rounds new weights w (n×k, stride ldw, the shape p was packed
// with) into p's own memory, allocating nothing: reloading the weights
// of a converted model. Products running on p meanwhile see a mix of old
// and new values.
func (p *PackedBF16) Repack(w []float32, ldw int) {
	if !p.w {
		panic("gemm: Repack needs weights from PackWeightsBF16")
	}
	checkMatrix("W", "ldw", false, p.m, p.k, w, ldw)
	p.packW(w, ldw)
}

// packW packs Wᵀ into p's slivers: with packWSliver where AVX512_BF16
// rounds, else with packBSliver's transposed path (portable Go).
func (p *PackedBF16) packW(w []float32, ldw int) {
	n, k := p.m, p.k
	kp := p.ks * bfTile / 2
	fast := HaveBF16()
	parallel.ForChunks(ceilDiv(n, bfTile), 1, func(lo, hi int) {
		var tmp []uint32
		if fast { // a pooled buffer: a model's packing leaves no garbage
			w := bfPool.Get().(*bfWorker)
			defer bfPool.Put(w)
			w.b = grow(w.b, bfTile*kp)
			tmp = w.b
		}
		for sb := lo; sb < hi; sb++ {
			if fast {
				packWSliver(p.b[sb*kp*bfTile:], w, ldw, sb*bfTile, n, k, tmp)
			} else {
				packBSliver(p.b[sb*kp*bfTile:], w, ldw, true, sb*bfTile, n, k)
			}
		}
	})
}

// packWSliver is packBSliver of rows [j0, j0+32) of W (Wᵀ's columns)
// with the rounding vectorised: each row rounded into bfloat16 pairs
// (bf16Row, VCVTNE2PS2BF16: the same values as ToBF16) in tmp (32 rows of
// kp pairs), then the pairs transposed into the sliver as they are.
func packWSliver(dst []uint32, w []float32, ldw, j0, n, k int, tmp []uint32) {
	ks := ceilDiv(k, bfTile)
	kp := ks * bfTile / 2
	for j := range bfTile {
		row := tmp[j*kp : (j+1)*kp]
		if j0+j >= n {
			clear(row)
			continue
		}
		for q := range ks {
			k0 := q * bfTile
			bf16Row((*uint16)(unsafe.Pointer(&row[k0/2])), &w[(j0+j)*ldw+k0], min(bfTile, k-k0))
		}
	}
	for p := range kp {
		d := dst[p*bfTile : (p+1)*bfTile]
		for j := range d {
			d[j] = tmp[j*kp+p]
		}
	}
}

// IsWeights reports whether p was packed by PackWeightsBF16.
func (p *PackedBF16) IsWeights() bool { return p.w }

// Bytes returns the memory p holds, padding included.
func (p *PackedBF16) Bytes() int { return 2*len(p.a) + 4*len(p.b) }

// WidenRows writes rows [r0, r1) of the weights W (n×k) packed by
// PackWeightsBF16, as float32 (exact), into dst (row-major, stride k).
func (p *PackedBF16) WidenRows(dst []float32, r0, r1 int) {
	if !p.w || r0 < 0 || r1 > p.m || r0 > r1 || len(dst) < (r1-r0)*p.k {
		panic("gemm: WidenRows out of range")
	}
	k := p.k
	step := p.ks * bfTile * bfTile / 2
	for i := r0; i < r1; i++ {
		sl, j := p.b[i/bfTile*step:], i%bfTile
		out := dst[(i-r0)*k : (i-r0+1)*k]
		for q := 0; q+1 < k; q += 2 {
			v := sl[q/2*bfTile+j]
			out[q], out[q+1] = FromBF16(uint16(v)), FromBF16(uint16(v>>16))
		}
		if k%2 == 1 {
			out[k-1] = FromBF16(uint16(sl[(k-1)/2*bfTile+j]))
		}
	}
}

// SgemmBF16W computes C (m×n, stride ldc, overwritten) = Act(x·Wᵀ + bias
// + residual) in bfloat16 with float32 accumulation, x m×k (stride ldx)
// and W packed by PackWeightsBF16: on the AMX tile unit where present,
// else with VDPBF16PS. It panics with ErrNoBF16 when HaveBF16 is false,
// and on invalid arguments like Sgemm. After warm-up a call allocates
// nothing.
func SgemmBF16W(m int, x []float32, ldx int, w *PackedBF16, c []float32, ldc int, ep *Epilogue) {
	if !HaveBF16() {
		panic(ErrNoBF16)
	}
	n, k := checkWeightsCall("SgemmBF16W", m, x, ldx, w, c, ldc, ep)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleC(&operands{m: m, n: n, beta: 0, c: c, ldc: ldc, ep: ep})
		return
	}
	call := bfCalls.Get().(*bfCall)
	defer bfCalls.Put(call)
	call.op = bfOp{m: m, n: n, k: k, ks: w.ks, alpha: 1, a: x, lda: ldx, pb: w, c: c, ldc: ldc, ep: ep}
	call.runW()
	call.op = bfOp{}
}

// checkWeightsCall validates the arguments of a product x·Wᵀ on weights
// packed by PackWeightsBF16 (panicking like Sgemm) and returns W's n×k.
func checkWeightsCall(fn string, m int, x []float32, ldx int, w *PackedBF16, c []float32, ldc int, ep *Epilogue) (n, k int) {
	if w == nil || !w.w {
		panic("gemm: " + fn + " needs weights from PackWeightsBF16")
	}
	n, k = w.m, w.k
	checkDims(m, n, k)
	checkMatrix("A", "lda", false, m, k, x, ldx)
	checkMatrix("C", "ldc", false, m, n, c, ldc)
	checkEpilogue(ep, m, n, ldc)
	return n, k
}

// runW is run for SgemmBF16W's c.op (weights packed by PackWeightsBF16,
// which only the 8×32 VDPBF16PS kernel and the AMX tiles read): x rounded
// into A blocks, then the column loop.
func (c *bfCall) runW() {
	op := &c.op
	rbs, sbs := ceilDiv(op.m, bfTile), ceilDiv(op.n, bfTile)
	w := bfPool.Get().(*bfWorker)
	defer bfPool.Put(w)
	w.a = grow(w.a, rbs*op.ks*bfTile*bfTile)
	op.abuf = w.a
	parallel.ForChunks(rbs, 1, c.pack)
	if useAMX() {
		parallel.ForChunks(sbs, min(bfGroup, max(1, sbs/parallel.Workers())), c.columns)
		return
	}
	parallel.ForChunks(sbs, 1, c.dp8)
}

// widenFloats is the float32 values SgemmWidenW widens at a time (4 MB).
const widenFloats = 1 << 20

// SgemmWidenW is SgemmBF16W in float32: W's bfloat16 values are widened
// (exactly) block by block of rows into a buffer and multiplied by x with
// Sgemm, so the result is x·Wᵀ for the rounded W, at float32 precision in
// x. It runs on every CPU and allocates nothing after warm-up.
func SgemmWidenW(m int, x []float32, ldx int, w *PackedBF16, c []float32, ldc int, ep *Epilogue) {
	n, k := checkWeightsCall("SgemmWidenW", m, x, ldx, w, c, ldc, ep)
	if m == 0 || n == 0 {
		return
	}
	call := widenPool.Get().(*widenCall)
	defer widenPool.Put(call)
	rows := n
	if k > 0 {
		rows = min(n, max(bfTile, widenFloats/k/bfTile*bfTile))
	}
	call.buf = grow(call.buf, rows*k)
	call.w = w
	for j0 := 0; j0 < n; j0 += rows {
		nr := min(rows, n-j0)
		call.j0, call.k = j0, k
		parallel.ForChunks(ceilDiv(nr, bfTile), 1, call.widenFn)
		var epj *Epilogue
		if ep != nil {
			call.ep = *ep
			if ep.Bias != nil && !ep.BiasPerRow {
				call.ep.Bias = ep.Bias[j0 : j0+nr]
			}
			if ep.Residual != nil {
				call.ep.Residual = ep.Residual[j0:]
			}
			epj = &call.ep
		}
		SgemmEx(false, true, m, nr, k, 1, x, ldx, call.buf, max(k, 1), 0, c[j0:], ldc, epj)
	}
	call.w, call.ep = nil, Epilogue{}
}

// widenCall is the state of one SgemmWidenW call (pooled, see bfCall).
type widenCall struct {
	w       *PackedBF16
	j0, k   int
	buf     []float32
	ep      Epilogue
	widenFn func(lo, hi int)
}

var widenPool = sync.Pool{New: func() any {
	c := &widenCall{}
	c.widenFn = c.widen
	return c
}}

// widen widens the 32-row blocks [lo, hi) of the current rows.
func (c *widenCall) widen(lo, hi int) {
	r0 := c.j0 + lo*bfTile
	r1 := min(c.j0+hi*bfTile, c.w.m)
	c.w.WidenRows(c.buf[lo*bfTile*c.k:], r0, r1)
}
