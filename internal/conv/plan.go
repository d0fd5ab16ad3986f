package conv

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/cpu"

	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/internal/parallel"
)

// Epilogue is what Forward fuses into the convolution's output pass:
// y = Act(conv(x) + Bias + Residual). The zero value adds nothing.
type Epilogue struct {
	// Bias has one value per output channel (len OutC), or is nil.
	Bias []float32
	// Residual has the output's shape (a skip connection), or is nil.
	Residual []float32
	// Act is gemm.None, gemm.ReLU or gemm.GELU (exact erf).
	Act gemm.Activation
}

// noEpilogue stands for a nil *Epilogue (read only).
var noEpilogue Epilogue

// algorithm is how a Plan computes its convolution.
type algorithm int

const (
	// algoPointwise: 1×1×1, stride 1, no padding: y = W·x, a plain GEMM.
	algoPointwise algorithm = iota
	// algoIm2col: W·cols with the column matrix built in bounded tiles of
	// output positions (never the full k³-times-larger matrix).
	algoIm2col
	// algoDepthwise: one input channel per group (EfficientNet's
	// depthwise convolutions): a direct kernel per output channel.
	algoDepthwise
)

// String names the algorithm for logs and benchmarks.
func (a algorithm) String() string {
	return [...]string{"pointwise-gemm", "im2col-gemm", "depthwise-direct"}[a]
}

// colBudget bounds the column tile to about 1 MB so that it stays in L2
// while the GEMM packs it.
const colBudget = 1 << 18

// Plan holds everything one convolution layer shape needs: the algorithm,
// the weights packed for the GEMM micro-kernel (for the forward pass and,
// transposed, for the data gradient) and the column workspace. Build it once
// per layer with NewPlan and SetWeights; after the first call of each pass,
// Forward, BackwardData and BackwardWeight allocate nothing.
//
// A Plan is not safe for concurrent use (it owns its workspace); use one
// Plan per goroutine. Kernels parallelize internally over the worker pool.
type Plan struct {
	g      geometry
	algo   algorithm
	tileN  int
	w      []float32
	packed []*gemm.PackedA // per group: W_g (ocg × k)
	packT  []*gemm.PackedA // per group: W_gᵀ (k × ocg), built on first BackwardData
	// packTOK says packT holds the current weights; its storage is reused.
	packTOK bool
	// packedOK says packed holds the current weights. It is packed on the
	// first GEMM forward after SetWeights, so layers whose forward runs the
	// direct kernel never pay for a pack they do not read.
	packedOK bool
	col      []float32
	ep       gemm.Epilogue
	dir      *direct // direct kernel, used at AVX-512
	dwf      *dwFast // depthwise direct kernel, used at AVX-512
	wg       *wino   // Winograd F(2,3) for stride-1 3×3×3 layers
	wgrad    *winoGrad
	sm       *small // batched columns for small outputs
	// bf16 runs the forward GEMMs in bfloat16 (SetBF16); pa16 holds the
	// weights packed for it, current when pa16OK.
	bf16   bool
	pa16   []*gemm.PackedBF16
	pa16OK bool
	bwd    *Plan // stride-1 data gradient as a direct convolution
	bwdW   []float32
	bwdOK  bool // bwd holds the current weights
	// dirOK says dir holds the current weights, packed on the first direct
	// forward after SetWeights (layers that run Winograd never pack them)
	dirOK bool

	// per-call state read by the parallel loop bodies below
	cx      []float32 // input (forward/weight) or gradient (data) of the current group
	cq0     int
	cq1     int
	rowFn   func(lo, hi int)
	col2Fn  func(lo, hi int)
	dwFn    func(lo, hi int)
	dwRange func(lo, hi int)
	cur     struct{ x, y, w, dw []float32 }
	curBack bool

	// lean says the forward multiplies by the weights as stored, packing
	// blocks on the fly, instead of keeping a packed copy (or running the
	// direct or Winograd kernels, which need their own): see leanColumns.
	lean bool
	// fwdTile is the forward's column tile (tileN, or for lean plans all
	// output positions up to leanColBudget); tab, if not nil, builds a
	// lean forward's single tile from a table of input offsets.
	fwdTile int
	tab     *small
}

// leanColumns is the most output columns (batch × output voxels) of a
// forward pass for which a Plan keeps no packed copy of its weights: it
// multiplies by the weights as stored (gemm.SgemmEx packs blocks on the
// fly into per-worker scratch). Such layers — the deep, low-resolution
// stages of a CNN; at 96³ ResNet18's layer3 (6³) and layer4 (3³) hold 95 %
// of its weights — read each weight only a few hundred times per pass, so
// packing per call costs little next to the multiply, while a resident
// pack doubles the memory of the weights (Winograd's transformed weights
// are 64/27 of them). Measured on ResNet18 (batch 1, 4×96³): peak RSS of
// inference 466 → 299 MB for ~10 % more CPU time. Training passes keep
// their packs for the gradients (packT, bwd). The threshold does not depend
// on the weights, so nothing can go stale: every pass reads the current
// values.
var leanColumns = 512

// leanStreamMin is the weights per group (values) from which a lean
// bfloat16 plan rounds them per call instead of keeping a bfloat16 pack
// (the threshold of nn's bfloat16 Linear layers, 1 MB of float32): the
// packs of small layers (EfficientNet's deep pointwise convolutions, of
// 0.1–0.2 M values) cost little memory and stay in cache, where rounding
// per call cost EfficientNet-B0 7 % of its bfloat16 CPU time; ResNet18's
// layer3/4 convolutions (0.9–7 M values) hold 59 MB of packs. Not with
// AMX, whose packed products are several times faster.
var leanStreamMin = 1 << 18

// leanColBudget bounds a lean forward's column tile (floats, 8 MB; pooled
// for the call), which holds all of its output positions below it.
var leanColBudget = 1 << 21

// leanWinograd lets lean layers still run Winograd (tests and
// experiments): its transformed weights are 64/27 of the originals, which
// is what lean plans avoid keeping (with it: 361 MB and ~3 % more CPU
// time on the ResNet18 above).
var leanWinograd = false

// NewPlan validates p and chooses the algorithm. Call SetWeights before the
// first Forward or BackwardData.
func NewPlan(p Params) (*Plan, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	g := newGeometry(p)
	pl := &Plan{g: g, algo: algoIm2col}
	switch {
	case g.p.Groups > 1 && g.icg == 1:
		pl.algo = algoDepthwise
	case g.kvol == 1 && g.p.Stride == [3]int{1, 1, 1} && g.p.Pad == [3]int{}:
		pl.algo = algoPointwise
	}
	if pl.algo == algoIm2col {
		pl.tileN = g.outSp
		if g.k*g.outSp > colBudget {
			pl.tileN = min(g.outSp, max(64, colBudget/g.k/64*64))
		}
	}
	pl.lean = pl.algo != algoDepthwise && g.p.N*g.outSp <= leanColumns
	pl.fwdTile = pl.tileN
	if pl.lean && pl.algo == algoIm2col {
		// One column tile for all output positions where it stays below
		// leanColBudget: each tile is a pass over the weights, which lean
		// layers read from memory (at 96³ ResNet18's layer3 took four).
		pl.fwdTile = g.outSp
		if g.k*g.outSp > leanColBudget {
			pl.fwdTile = min(g.outSp, max(pl.tileN, leanColBudget/g.k/64*64))
		}
		if pl.fwdTile == g.outSp && g.outSp*g.kvol <= 1<<16 {
			pl.tab = newSmall(&pl.g)
		}
	}
	if pl.algo == algoIm2col && !pl.lean && useDirect(&pl.g) {
		pl.dir = newDirect(&pl.g)
	}
	if pl.algo == algoDepthwise {
		pl.dwf = newDWFast(&pl.g)
	}
	if pl.algo == algoIm2col && useSmall(&pl.g) {
		pl.sm = newSmall(&pl.g)
	}
	if l := winoLevel(); pl.algo == algoIm2col && l > cpu.Portable && winoEligible(&pl.g) {
		pl.wg = newWino(&pl.g, l)
	}
	pl.rowFn = pl.im2colRows
	pl.col2Fn = pl.col2imChannels
	pl.dwFn = pl.depthwiseChannels
	pl.dwRange = pl.depthwiseRange
	return pl, nil
}

// Params returns the (normalized) shape the plan was built for.
func (pl *Plan) Params() Params { return pl.g.p }

// Algorithm names the method chosen, for logs and benchmarks.
func (pl *Plan) Algorithm() string {
	if pl.winograd() != nil {
		return "winograd-f2x3"
	}
	if pl.direct() {
		return "direct-avx512"
	}
	if pl.dwf != nil && haveDirect() {
		return "depthwise-avx512"
	}
	return pl.algo.String()
}

// winograd returns the Winograd state when it runs at the current level
// (its transforms are AVX-512 or AVX2 assembly), or nil. Tests switch
// levels between calls: the state follows the level's GEMM kernel.
func (pl *Plan) winograd() *wino {
	if pl.algo != algoIm2col || !winoEligible(&pl.g) {
		return nil
	}
	l := winoLevel()
	if l == cpu.Portable {
		return nil
	}
	if pl.wg == nil || pl.wg.kn.Level != l {
		pl.wg, pl.wgrad = newWino(&pl.g, l), nil
		pl.wg.setWeights(pl.w)
	}
	return pl.wg
}

// direct reports whether the stride-1 direct kernel runs at the current level.
func (pl *Plan) direct() bool { return pl.dir != nil && haveDirect() }

// SetWeights installs the layer's weights (OutC, InC/Groups, k...). Call it
// again after every change of the weights (for example after an optimizer
// step). The plan keeps a reference to w and packs or transforms it for the
// kernel a pass uses when that pass first needs it, so w must not change
// until the next SetWeights.
func (pl *Plan) SetWeights(w []float32) error {
	if err := checkLen("weights", len(w), pl.g.p.WeightLen()); err != nil {
		return err
	}
	pl.w = w
	pl.packTOK = false
	pl.packedOK = false
	pl.bwdOK = false
	if pl.wg != nil {
		pl.wg.setWeights(w)
	}
	pl.dirOK = false
	pl.pa16OK = false
	return nil
}

// SetBF16 makes Forward run its GEMM-based paths (pointwise layers, patch
// embeddings, column-matrix convolutions) in bfloat16 with float32
// accumulation on AMX (gemm.HaveBF16), for inference: about three
// significant digits per product. The Winograd, direct and depthwise
// kernels and every gradient stay in float32. It returns an error wrapping
// gemm.ErrNoBF16 when the machine cannot.
func (pl *Plan) SetBF16(on bool) error {
	if on && !gemm.HaveBF16() {
		return fmt.Errorf("conv: %w", gemm.ErrNoBF16)
	}
	pl.bf16 = on
	return nil
}

// multiplyW computes y = W_g·b (+ the epilogue ep) for group gi, n
// columns: in bfloat16 after SetBF16(true), else in float32.
func (pl *Plan) multiplyW(gi, n int, b []float32, ldb int, y []float32, ldy int, ep *gemm.Epilogue) {
	if !pl.bf16 && pl.lean {
		g := &pl.g
		gemm.SgemmEx(false, false, g.ocg, n, g.k, 1, pl.w[gi*g.ocg*g.k:], g.k, b, ldb, 0, y, ldy, ep)
		return
	}
	if !pl.bf16 {
		pl.packWeights()
		gemm.SgemmPackedA(pl.packed[gi], false, n, b, ldb, 0, y, ldy, ep)
		return
	}
	if g := &pl.g; pl.lean && g.ocg*g.k >= leanStreamMin && gemm.HaveBF16() && !gemm.UsesAMX() {
		// As in float32, lean layers keep no packed copy: the weights are
		// rounded per call, a block of rows at a time (see leanColumns).
		pl.pa16, pl.pa16OK = nil, false
		gemm.SgemmBF16StreamA(g.ocg, n, g.k, pl.w[gi*g.ocg*g.k:], g.k, b, ldb, y, ldy, ep)
		return
	}
	if !pl.pa16OK {
		g := &pl.g
		pl.pa16 = pl.pa16[:0]
		for gj := range g.p.Groups {
			pa, err := gemm.PackABF16(false, g.ocg, g.k, 1, pl.w[gj*g.ocg*g.k:], g.k)
			if err != nil { // SetBF16 checked HaveBF16; only a lowered level gets here
				pl.bf16 = false
				pl.multiplyW(gi, n, b, ldb, y, ldy, ep)
				return
			}
			pl.pa16 = append(pl.pa16, pa)
		}
		pl.pa16OK = true
	}
	gemm.SgemmBF16PackedA(pl.pa16[gi], false, n, b, ldb, 0, y, ldy, ep)
}

func (pl *Plan) needWeights() error {
	if pl.w == nil {
		return fmt.Errorf("%w: SetWeights was not called", ErrParams)
	}
	return nil
}

// workspace returns the plan's column buffer, allocating it on first use.
func (pl *Plan) workspace() []float32 {
	if n := pl.g.k * pl.tileN; len(pl.col) < n {
		pl.col = make([]float32, n)
	}
	return pl.col
}

// Forward computes y = Act(conv(x, W) + bias + residual) for input x
// (N, InC, In...) into y (N, OutC, Out()...). ep may be nil.
func (pl *Plan) Forward(y, x []float32, ep *Epilogue) error {
	g := &pl.g
	if err := pl.checkIO(x, y); err != nil {
		return err
	}
	if err := pl.needWeights(); err != nil {
		return err
	}
	if ep == nil {
		ep = &noEpilogue
	}
	if ep.Bias != nil {
		if err := checkLen("bias", len(ep.Bias), g.p.OutC); err != nil {
			return err
		}
	}
	if ep.Residual != nil {
		if err := checkLen("residual", len(ep.Residual), g.p.OutLen()); err != nil {
			return err
		}
	}
	if pl.algo == algoDepthwise {
		if haveDirect() {
			f := pl.dwf
			f.x, f.y, f.w, f.ep, f.back = x, y, pl.w, ep, false
			f.run(g.p.N * g.p.InC)
			return nil
		}
		pl.depthwise(y, x, false)
		finishEpilogue(y, ep, g.p.N, g.p.OutC, g.outSp)
		return nil
	}
	if wg := pl.winograd(); wg != nil {
		wg.forward(x, y, ep)
		return nil
	}
	if pl.sm != nil && !pl.direct() {
		pl.sm.forward(pl, y, x, ep)
		return nil
	}
	if pl.direct() && !pl.dirOK {
		pl.dir.pack(g, pl.w)
		pl.dirOK = true
	}
	tile := pl.tileN
	if pl.lean && pl.algo == algoIm2col {
		// Lean layers borrow the column buffer from the package's pool
		// for this call instead of keeping one each.
		tile = pl.fwdTile
		own := pl.col
		pl.col = scratch.get(g.k * tile)
		defer func() { scratch.put(pl.col); pl.col = own }()
	}
	for n := range g.p.N {
		for gi := range g.p.Groups {
			xg := x[(n*g.p.InC+gi*g.icg)*g.inSp:]
			yo := (n*g.p.OutC + gi*g.ocg) * g.outSp
			pl.ep = gemm.Epilogue{BiasPerRow: true, Act: ep.Act}
			if ep.Bias != nil {
				pl.ep.Bias = ep.Bias[gi*g.ocg:]
			}
			if pl.direct() {
				pl.dir.forward(pl, xg, y, yo, gi, ep)
				continue
			}
			if pl.algo == algoPointwise {
				if ep.Residual != nil {
					pl.ep.Residual = ep.Residual[yo:]
				}
				pl.multiplyW(gi, g.outSp, xg, g.inSp, y[yo:], g.outSp, &pl.ep)
				continue
			}
			col := pl.col
			if tile == pl.tileN {
				col = pl.workspace()
			}
			for q0 := 0; q0 < g.outSp; q0 += tile {
				q1 := min(q0+tile, g.outSp)
				if pl.tab != nil && tile == g.outSp {
					pl.tab.gatherSample(col, xg)
				} else {
					pl.fillCols(xg, q0, q1)
				}
				if ep.Residual != nil {
					pl.ep.Residual = ep.Residual[yo+q0:]
				}
				pl.multiplyW(gi, q1-q0, col, q1-q0, y[yo+q0:], g.outSp, &pl.ep)
			}
		}
	}
	return nil
}

// packWeights packs W_g for the GEMM paths on first use after SetWeights.
func (pl *Plan) packWeights() {
	if !pl.packedOK {
		pl.packed = repackGroups(pl.packed, &pl.g, false, pl.w)
		pl.packedOK = true
	}
}

// finishEpilogue applies a Forward epilogue in a separate pass, for the
// direct kernels that do not fuse it.
func finishEpilogue(y []float32, ep *Epilogue, n, c, sp int) {
	if ep.Bias == nil && ep.Residual == nil && ep.Act == gemm.None {
		return
	}
	parallel.ForChunks(n*c, max(1, 4096/sp), func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			ys := y[nc*sp : (nc+1)*sp]
			var b float32
			if ep.Bias != nil {
				b = ep.Bias[nc%c]
			}
			for i := range ys {
				v := ys[i] + b
				if ep.Residual != nil {
					v += ep.Residual[nc*sp+i]
				}
				switch ep.Act {
				case gemm.ReLU:
					v = max(v, 0)
				case gemm.GELU:
					v = gemm.Gelu(v)
				}
				ys[i] = v
			}
		}
	})
}

func (pl *Plan) checkIO(x, y []float32) error {
	if err := checkLen("input", len(x), pl.g.p.InLen()); err != nil {
		return err
	}
	return checkLen("output", len(y), pl.g.p.OutLen())
}

// fillCols builds the column tile for output positions [q0,q1) of one
// (sample, group) input, rows in parallel.
func (pl *Plan) fillCols(xg []float32, q0, q1 int) {
	pl.cx, pl.cq0, pl.cq1 = xg, q0, q1
	parallel.ForChunks(pl.g.k, max(1, 8192/(q1-q0)), pl.rowFn)
	pl.cx = nil
}

func (pl *Plan) im2colRows(lo, hi int) {
	nt := pl.cq1 - pl.cq0
	for r := lo; r < hi; r++ {
		pl.g.im2colRow(pl.col[r*nt:(r+1)*nt], pl.cx, r, pl.cq0, pl.cq1)
	}
}

// col2imChannels scatters the rows of input channels [lo,hi) of the column
// tile into pl.cx (the data gradient): each channel is written by one worker.
func (pl *Plan) col2imChannels(lo, hi int) {
	nt := pl.cq1 - pl.cq0
	for r := lo * pl.g.kvol; r < hi*pl.g.kvol; r++ {
		pl.g.col2imRow(pl.cx, pl.col[r*nt:(r+1)*nt], r, pl.cq0, pl.cq1)
	}
}

// BackwardData computes the input gradient dx (N, InC, In...) from the
// output gradient dy (N, OutC, Out()...), overwriting dx.
func (pl *Plan) BackwardData(dx, dy []float32) error {
	g := &pl.g
	if err := pl.checkIO(dx, dy); err != nil {
		return err
	}
	if err := pl.needWeights(); err != nil {
		return err
	}
	if pl.algo == algoDepthwise {
		if haveDirect() {
			if ok, err := pl.backwardDataDirect(dx, dy); ok || err != nil {
				return err
			}
		}
		pl.depthwise(dy, dx, true)
		return nil
	}
	if pl.direct() || pl.winograd() != nil {
		if ok, err := pl.backwardDataDirect(dx, dy); ok || err != nil {
			return err
		}
	}
	if pl.sm != nil {
		pl.sm.backwardData(pl.w, dx, dy)
		return nil
	}
	if !pl.packTOK {
		pl.packT = repackGroups(pl.packT, g, true, pl.w)
		pl.packTOK = true
	}
	for n := range g.p.N {
		for gi := range g.p.Groups {
			dxg := dx[(n*g.p.InC+gi*g.icg)*g.inSp : (n*g.p.InC+(gi+1)*g.icg)*g.inSp]
			dyg := dy[(n*g.p.OutC+gi*g.ocg)*g.outSp:]
			if pl.algo == algoPointwise {
				gemm.SgemmPackedA(pl.packT[gi], false, g.outSp, dyg, g.outSp, 0, dxg, g.inSp, nil)
				continue
			}
			clear(dxg)
			col := pl.workspace()
			for q0 := 0; q0 < g.outSp; q0 += pl.tileN {
				q1 := min(q0+pl.tileN, g.outSp)
				gemm.SgemmPackedA(pl.packT[gi], false, q1-q0, dyg[q0:], g.outSp, 0, col, q1-q0, nil)
				pl.cx, pl.cq0, pl.cq1 = dxg, q0, q1
				parallel.For(g.icg, pl.col2Fn)
				pl.cx = nil
			}
		}
	}
	return nil
}

// BackwardWeight adds the weight gradient of the batch to dw (OutC,
// InC/Groups, k...) and, if db is not nil, the bias gradient (the sum of dy
// per output channel) to db. It needs the forward input x and dy.
func (pl *Plan) BackwardWeight(dw, db, x, dy []float32) error {
	g := &pl.g
	if err := pl.checkIO(x, dy); err != nil {
		return err
	}
	if err := checkLen("weight gradient", len(dw), g.p.WeightLen()); err != nil {
		return err
	}
	if db != nil {
		if err := checkLen("bias gradient", len(db), g.p.OutC); err != nil {
			return err
		}
		biasGrad(db, dy, g.p.N, g.p.OutC, g.outSp)
	}
	if pl.algo == algoDepthwise && haveDirect() {
		f := pl.dwf
		f.x, f.y, f.w, f.back = x, dy, dw, true
		f.run(g.p.InC)
		return nil
	}
	if pl.algo == algoDepthwise {
		pl.cur.x, pl.cur.y, pl.cur.dw = x, dy, dw
		parallel.ForChunks(g.p.OutC, 1, pl.dwFn)
		pl.cur.x, pl.cur.y, pl.cur.dw = nil, nil, nil
		return nil
	}
	if wg := pl.winograd(); wg != nil {
		if pl.wgrad == nil {
			pl.wgrad = newWinoGrad(wg)
		}
		pl.wgrad.backwardWeight(dw, x, dy)
		return nil
	}
	if pl.sm != nil && !pl.direct() {
		pl.sm.backwardWeight(dw, x, dy)
		return nil
	}
	for n := range g.p.N {
		for gi := range g.p.Groups {
			xg := x[(n*g.p.InC+gi*g.icg)*g.inSp:]
			dyg := dy[(n*g.p.OutC+gi*g.ocg)*g.outSp:]
			dwg := dw[gi*g.ocg*g.k:]
			if pl.direct() {
				pl.dir.backwardWeight(pl, dwg, xg, dyg)
				continue
			}
			if pl.algo == algoPointwise {
				gemm.Sgemm(false, true, g.ocg, g.k, g.outSp, 1, dyg, g.outSp, xg, g.inSp, 1, dwg, g.k)
				continue
			}
			col := pl.workspace()
			for q0 := 0; q0 < g.outSp; q0 += pl.tileN {
				q1 := min(q0+pl.tileN, g.outSp)
				pl.fillCols(xg, q0, q1)
				gemm.Sgemm(false, true, g.ocg, g.k, q1-q0, 1, dyg[q0:], g.outSp, col, q1-q0, 1, dwg, g.k)
			}
		}
	}
	return nil
}

// biasGrad adds the sum of dy (n, c, sp) over n and sp to db.
func biasGrad(db, dy []float32, n, c, sp int) {
	parallel.ForChunks(c, max(1, 4096/(n*sp)), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for i := range n {
				for _, v := range dy[(i*c+ch)*sp : (i*c+ch+1)*sp] {
					s += float64(v)
				}
			}
			db[ch] += float32(s)
		}
	})
}

// backwardDataDirect computes the data gradient of a stride-1 layer as the
// direct convolution of dy with the flipped, transposed weights. It returns
// false when that adjoint does not exist (padding larger than d·(k-1)).
func (pl *Plan) backwardDataDirect(dx, dy []float32) (bool, error) {
	if pl.bwd == nil {
		a, ok := adjointParams(pl.g.p)
		if !ok {
			return false, nil
		}
		b, err := NewPlan(a)
		if err != nil {
			return false, nil
		}
		pl.bwd, pl.bwdW = b, make([]float32, len(pl.w))
	}
	if !pl.bwdOK {
		adjointWeights(&pl.g, pl.bwdW, pl.w)
		if err := pl.bwd.SetWeights(pl.bwdW); err != nil {
			return true, err
		}
		pl.bwdOK = true
	}
	return true, pl.bwd.Forward(dx, dy, nil)
}

// repackGroups packs each group's weight matrix W_g (ocg × k), or its
// transpose, reusing the storage of the previous packs.
func repackGroups(prev []*gemm.PackedA, g *geometry, trans bool, w []float32) []*gemm.PackedA {
	out := prev[:0]
	for gi := range g.p.Groups {
		var old *gemm.PackedA
		if gi < len(prev) {
			old = prev[gi]
		}
		m, k := g.ocg, g.k
		if trans {
			m, k = g.k, g.ocg
		}
		out = append(out, gemm.RepackA(old, trans, m, k, 1, w[gi*g.ocg*g.k:], g.k))
	}
	return out
}
