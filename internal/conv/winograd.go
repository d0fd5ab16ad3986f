package conv

import (
	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/internal/parallel"
)

// Winograd F(2×2×2, 3×3×3) (Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016, extended to three axes). The output
// is cut into 2×2×2 tiles, each computed from a 4×4×4 input tile d as
//
//	Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A     (applied along each of the 3 axes)
//
// so one tile costs 64 multiplies per (input, output) channel pair instead
// of 8·27 = 216: 3.375× fewer. Summed over input channels, the 64
// element-wise products become 64 independent GEMMs, one per transform
// position ξ: M_ξ (tiles × OutC) = V_ξ (tiles × InC) · U_ξ (InC × OutC).
// The tiles of a sample are processed in blocks small enough that a
// block's V and M stay in L2; the input transform writes V straight into
// the GEMM micro-kernel's packed A layout and the weights U are packed once
// per SetWeights in its B layout, so the GEMMs run the micro-kernel with no
// packing at all. The output transform adds the epilogue (bias, residual,
// activation) while it writes each tile.
//
// With 0/±1 input and output transforms and ½ in G, F(2,3) adds only a few
// float32 roundings per term (errors stay within the 1e-5 bound of the
// tests, unlike the larger F(4,3) tiles).

// winoEligible reports whether the Winograd path computes p: 3×3×3, stride
// 1, no dilation, no groups, and enough tiles and channels for the GEMMs to
// pay for the transforms.
func winoEligible(g *geometry) bool {
	p := g.p
	if !leanWinograd && p.N*g.outSp <= leanColumns {
		return false
	}
	if p.Kernel != [3]int{3, 3, 3} || p.Stride != [3]int{1, 1, 1} || p.Dilation != [3]int{1, 1, 1} || p.Groups != 1 {
		return false
	}
	tiles := 1
	for i := range 3 {
		tiles *= (g.out[i] + 1) / 2
	}
	return p.InC >= winoMinChannels && p.OutC >= winoMinChannels && tiles >= winoMinTiles
}

// The Winograd thresholds (tests lower them to run small shapes).
var (
	winoMinChannels = 16
	winoMinTiles    = 27
)

// winoBlockBytes bounds the V and M buffers of one tile block (L2 is 2 MB
// per core here; the weights of one ξ and the input rows share it). Tests
// lower it to run many blocks.
var winoBlockBytes = 3 << 19

// winoRun is the most tiles the assembly transforms handle per call (one
// ZMM register of tiles along W; 8, one YMM register, at AVX2).
const winoRun = 16

// winoLevel returns the cpu level whose Winograd transforms and GEMM
// kernel run now: AVX-512, AVX2, or Portable when there are none (the plan
// then uses its other algorithm).
func winoLevel() cpu.Level {
	switch l := cpu.Current(); {
	case haveDirect():
		return cpu.AVX512
	case haveWino2Asm && l >= cpu.AVX2:
		return cpu.AVX2
	}
	return cpu.Portable
}

// wino is the Winograd state of a Plan. The GEMM of position ξ is
//
//	M_ξ (OutC × tiles) = U_ξ (OutC × InC) · V_ξ (InC × tiles)
//
// with U packed as the micro-kernel's A operand, u[ξ][cout/MR][cin][MR],
// V written by the input transform as its B operand, v[ξ][tile/NR][cin][NR],
// and M a plain row-major m[ξ][cout][tile] (rows padded to a multiple of
// MR) that the output transform reads 16 tiles at a time.
type wino struct {
	g      *geometry
	kn     gemm.Kernel
	tiles  [3]int // tiles per axis, ceil(out/2)
	ntile  int    // tiles per sample
	run    int    // tiles per transform call: 16 (AVX-512) or 8 (AVX2)
	bt     int    // tiles per block, a multiple of kn.NR
	nblk   int    // blocks per sample
	coutM  int    // OutC rounded up to kn.MR
	u      []float32
	uOK    bool        // u holds the current weights
	shared winoBuffers // the block buffers while workers share blocks
	w      []float32

	wFn   func(lo, hi int)
	blkFn func(lo, hi int)
	inFn  func(lo, hi int)
	mulFn func(lo, hi int)
	outFn func(lo, hi int)

	// per-call state read by the parallel loop bodies
	x, y      []float32
	ep        *Epilogue
	relu      int
	n, t0, t1 int
}

// newWino prepares the Winograd state for the transforms and GEMM kernel of
// level l (AVX512 or AVX2).
func newWino(g *geometry, l cpu.Level) *wino {
	wg := &wino{g: g, kn: gemm.KernelFor(l), run: winoRun}
	if l < cpu.AVX512 {
		wg.run = winoRun / 2
	}
	wg.ntile = 1
	for i := range 3 {
		wg.tiles[i] = (g.out[i] + 1) / 2
		wg.ntile *= wg.tiles[i]
	}
	nr := wg.kn.NR
	wg.coutM = (g.p.OutC + wg.kn.MR - 1) / wg.kn.MR * wg.kn.MR
	perSliver := 64 * (g.p.InC + wg.coutM) * 4 * nr
	slivers := max(1, min((wg.ntile+nr-1)/nr, winoBlockBytes/perSliver))
	wg.bt = slivers * nr
	wg.nblk = (wg.ntile + wg.bt - 1) / wg.bt
	wg.wFn, wg.blkFn = wg.transformWeights, wg.blocks
	wg.inFn, wg.mulFn, wg.outFn = wg.inputChannels, wg.multiplyRange, wg.outputChannels
	return wg
}

// setWeights records w; it is transformed on the next forward pass.
func (wg *wino) setWeights(w []float32) { wg.w, wg.uOK = w, false }

// pack transforms every (output, input) channel pair's 3×3×3 kernel into
// U = G g Gᵀ. Padding rows (cout ≥ OutC) stay zero.
func (wg *wino) pack() {
	if wg.uOK {
		return
	}
	if n := 64 * wg.g.p.InC * wg.coutM; len(wg.u) < n {
		wg.u = alignedZeros(n)
	}
	parallel.ForChunks(wg.coutM/wg.kn.MR, 1, wg.wFn)
	wg.uOK = true
}

// transformWeights transforms the kernels of output-channel slivers
// [lo,hi): the 27 taps of 14 output channels are transposed into vectors
// (lane = output channel) and transformed together.
func (wg *wino) transformWeights(lo, hi int) {
	if wg.run < winoRun {
		wg.transformWeightsGo(lo, hi)
		return
	}
	cin, mr := wg.g.p.InC, wg.kn.MR
	us, ld := cin*wg.coutM, cin*27
	st := getStage()
	for s := lo; s < hi; s++ {
		oc0 := s * mr
		n := min(mr, wg.g.p.OutC-oc0)
		for ic := range cin {
			src := wg.w[oc0*ld+ic*27:]
			winoTranspose16(&src[0], ld, &st[0], 16, n, 0xffff)
			winoTranspose16(&src[16], ld, &st[256], 16, n, 0x7ff)
			winoKernel(&st[0], &wg.u[(s*cin+ic)*mr], us)
		}
	}
	scratch.put(st)
}

// transformWeightsGo is transformWeights one channel pair at a time, for
// the AVX2 kernel's 6-row slivers.
func (wg *wino) transformWeightsGo(lo, hi int) {
	cin, mr := wg.g.p.InC, wg.kn.MR
	us := cin * wg.coutM
	var t [64]float32
	for s := lo; s < hi; s++ {
		for oc := s * mr; oc < min((s+1)*mr, wg.g.p.OutC); oc++ {
			for ic := range cin {
				kernelTransform(&t, (*[27]float32)(wg.w[(oc*cin+ic)*27:]))
				o := (s*cin+ic)*mr + oc%mr
				for xi, v := range t {
					wg.u[xi*us+o] = v
				}
			}
		}
	}
}

// kernelTransform computes G g Gᵀ along the three axes of a 3×3×3 kernel
// (index kd·9+kh·3+kw) into a 4×4×4 tile (index i·16+j·4+k), with
//
//	G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1].
func kernelTransform(t *[64]float32, g *[27]float32) {
	var a [48]float32 // [3 kd][4 j][4 k] after the kw and kh passes
	var b [36]float32 // [3 kd][3 kh][4 k]
	for r := range 9 {
		g0, g1, g2 := g[r*3], g[r*3+1], g[r*3+2]
		b[r*4], b[r*4+1], b[r*4+2], b[r*4+3] = g0, (g0+g1+g2)*0.5, (g0-g1+g2)*0.5, g2
	}
	for kd := range 3 {
		for k := range 4 {
			g0, g1, g2 := b[kd*12+k], b[kd*12+4+k], b[kd*12+8+k]
			a[kd*16+k], a[kd*16+4+k], a[kd*16+8+k], a[kd*16+12+k] = g0, (g0+g1+g2)*0.5, (g0-g1+g2)*0.5, g2
		}
	}
	for jk := range 16 {
		g0, g1, g2 := a[jk], a[16+jk], a[32+jk]
		t[jk], t[16+jk], t[32+jk], t[48+jk] = g0, (g0+g1+g2)*0.5, (g0-g1+g2)*0.5, g2
	}
}

// forward computes the convolution of x into y with the epilogue ep (a
// GELU runs as a separate pass).
func (wg *wino) forward(x, y []float32, ep *Epilogue) {
	wg.pack()
	wg.x, wg.y, wg.ep, wg.relu = x, y, ep, 0
	if ep.Act == gemm.ReLU {
		wg.relu = 1
	}
	if blocks := wg.g.p.N * wg.nblk; blocks >= 2*parallel.Workers() {
		parallel.ForChunks(blocks, 1, wg.blkFn)
	} else {
		wg.sharedBlocks()
	}
	if ep.Act == gemm.GELU {
		finishEpilogue(y, &Epilogue{Act: gemm.GELU}, wg.g.p.N, wg.g.p.OutC, wg.g.outSp)
	}
	wg.x, wg.y, wg.ep = nil, nil, nil
}

// winoBuffers is one worker's share of a forward pass: a block's V and M
// and the transform stage, all from the package's scratch pool.
type winoBuffers struct{ v, m, stage []float32 }

func (wg *wino) getBuffers() winoBuffers {
	return winoBuffers{
		v:     scratch.get(64 * wg.bt * wg.g.p.InC),
		m:     scratch.get(64*wg.bt*wg.coutM + winoRun), // loads read a run past the last tile
		stage: getStage(),
	}
}

func (b winoBuffers) put() {
	scratch.put(b.v)
	scratch.put(b.m)
	scratch.put(b.stage)
}

// blockRange returns sample n and tiles [t0,t1) of block b.
func (wg *wino) blockRange(b int) (n, t0, t1 int) {
	n, t0 = b/wg.nblk, b%wg.nblk*wg.bt
	return n, t0, min(t0+wg.bt, wg.ntile)
}

// blocks runs tile blocks [lo,hi) (numbered sample-major), each entirely
// on this worker so that its V and M stay in this core's L2.
func (wg *wino) blocks(lo, hi int) {
	s := wg.getBuffers()
	for b := lo; b < hi; b++ {
		n, t0, t1 := wg.blockRange(b)
		wg.inputTransform(s.v, s.stage, n, t0, t1, 0, wg.g.p.InC)
		wg.multiply(s.v, s.m, 0, 64)
		wg.outputTransform(s.m, n, t0, t1, 0, wg.g.p.OutC)
	}
	s.put()
}

// sharedBlocks runs the blocks one after the other with every phase split
// across the workers, for problems with fewer blocks than workers.
func (wg *wino) sharedBlocks() {
	wg.shared = wg.getBuffers()
	defer func() { wg.shared.put(); wg.shared = winoBuffers{} }()
	cin, cout := wg.g.p.InC, wg.g.p.OutC
	for b := range wg.g.p.N * wg.nblk {
		wg.n, wg.t0, wg.t1 = wg.blockRange(b)
		parallel.ForChunks(cin, max(1, cin/(4*parallel.Workers())), wg.inFn)
		parallel.ForChunks(64, 4, wg.mulFn)
		parallel.ForChunks(cout, max(1, cout/(4*parallel.Workers())), wg.outFn)
	}
}

func (wg *wino) inputChannels(lo, hi int) {
	st := getStage()
	wg.inputTransform(wg.shared.v, st, wg.n, wg.t0, wg.t1, lo, hi)
	scratch.put(st)
}

func (wg *wino) multiplyRange(lo, hi int) { wg.multiply(wg.shared.v, wg.shared.m, lo, hi) }

func (wg *wino) outputChannels(lo, hi int) {
	wg.outputTransform(wg.shared.m, wg.n, wg.t0, wg.t1, lo, hi)
}

// multiply runs the GEMMs M_ξ = U_ξ·V_ξ of a block for ξ in [lo,hi).
func (wg *wino) multiply(v, m []float32, lo, hi int) {
	cin, mr, nr, cm, bt := wg.g.p.InC, wg.kn.MR, wg.kn.NR, wg.coutM, wg.bt
	vs, us, ms := bt*cin, cin*cm, bt*cm
	for xi := lo; xi < hi; xi++ {
		vx, ux, mx := v[xi*vs:(xi+1)*vs], wg.u[xi*us:(xi+1)*us], m[xi*ms:]
		for j := 0; j < bt; j += nr {
			vb := vx[j*cin:]
			for i := 0; i < cm; i += mr {
				// the last sliver computes only the rows of real channels
				wg.kn.RunRows(wg.g.p.OutC-i, cin, ux[i*cin:], vb, mx[i*bt+j:], bt, 0)
			}
		}
	}
}

// runs calls fn for each run of at most winoRun tiles of [t0,t1) that lie
// in one tile row: td, th, tw are the first tile's coordinates.
func (wg *wino) runs(t0, t1 int, fn func(t, n, td, th, tw int)) {
	tw0 := wg.tiles[2]
	for t := t0; t < t1; {
		tw := t % tw0
		row := t / tw0
		n := min(winoRun, tw0-tw, t1-t)
		if wg.run < winoRun { // AVX2 runs stay inside one sliver (no compress)
			n = min(n, wg.run-(t-t0)%wg.run)
		}
		fn(t, n, row/wg.tiles[1], row%wg.tiles[1], tw)
		t += n
	}
}

// inputTransform writes Bᵀ d B of tiles [t0,t1) of sample n for input
// channels [icLo,icHi) into v (see wino). Columns of tiles past t1 are left
// as they are: they only reach M columns that are never read.
func (wg *wino) inputTransform(v, stage []float32, n, t0, t1, icLo, icHi int) {
	g, nr := wg.g, wg.kn.NR
	cin, in := g.p.InC, g.p.In
	vs := wg.bt * cin
	var rows [16]int
	wg.runs(t0, t1, func(t, cnt, td, th, tw int) {
		z0, y0 := 2*td-g.p.Pad[0], 2*th-g.p.Pad[1]
		for i := range 4 {
			for j := range 4 {
				z, yy := z0+i, y0+j
				rows[i*4+j] = -1
				if z >= 0 && z < in[0] && yy >= 0 && yy < in[1] {
					rows[i*4+j] = (z*in[1] + yy) * in[2]
				}
			}
		}
		col0 := 2*tw - g.p.Pad[2]
		r := t - t0
		if wg.run < winoRun {
			masks := colMask(col0, in[2], 0)&0xff | colMask(col0, in[2], 8)&0xff<<8 | colMask(col0, in[2], 2)&0xff<<16 | colMask(col0, in[2], 10)&0xff<<24
			base := (r/nr)*cin*nr + r%nr
			for ic := icLo; ic < icHi; ic++ {
				x := wg.x[(n*cin+ic)*g.inSp:]
				winoInput8(&x[0], &rows, col0, masks, &stage[0], &v[base+ic*nr], vs, uint64(1)<<cnt-1)
			}
			return
		}
		masks := colMask(col0, in[2], 0) | colMask(col0, in[2], 16)<<16 | colMask(col0, in[2], 2)<<32 | colMask(col0, in[2], 18)<<48
		first := min(cnt, nr-r%nr) // lanes in this sliver, the rest in the next
		m1 := uint64(1)<<first - 1
		smask := m1 | (uint64(1)<<cnt-1)&^m1<<16 | (uint64(1)<<(cnt-first)-1)<<32
		base, d2 := (r/nr)*cin*nr+r%nr, cin*nr-r%nr
		for ic := icLo; ic < icHi; ic++ {
			x := wg.x[(n*cin+ic)*g.inSp:]
			winoInput(&x[0], &rows, col0, masks, &stage[0], &v[base+ic*nr], vs, d2, smask)
		}
	})
}

// colMask returns the 16-bit mask of columns col0+off+l (l < 16) that lie
// in [0, w).
func colMask(col0, w, off int) uint64 {
	var m uint64
	for l := range 16 {
		if c := col0 + off + l; c >= 0 && c < w {
			m |= 1 << l
		}
	}
	return m
}

// outputTransform turns the products M of tiles [t0,t1) of sample n into
// output tiles Aᵀ M A for output channels [ocLo,ocHi), with the epilogue.
func (wg *wino) outputTransform(m []float32, n, t0, t1, ocLo, ocHi int) {
	g := wg.g
	cout, out, bt := g.p.OutC, g.out, wg.bt
	ms := bt * wg.coutM
	ep := wg.ep
	half := wg.run // output columns per vector: a run's tiles give 2·run
	var st []float32
	if half < winoRun {
		st = getStage()
		defer scratch.put(st)
	}
	wg.runs(t0, t1, func(t, cnt, td, th, tw int) {
		z0, y0, x0 := 2*td, 2*th, 2*tw
		nw := min(2*cnt, out[2]-x0)
		lo, hi := uint64(1)<<min(half, nw)-1, uint64(1)<<max(0, nw-half)-1
		row := lo | hi<<half
		var mk [4]uint64 // rows (i, j) = (0,0), (0,1), (1,0), (1,1)
		for i := range 2 {
			for j := range 2 {
				if z0+i < out[0] && y0+j < out[1] {
					mk[i*2+j] = row
				}
			}
		}
		mk01, mk23 := mk[0]|mk[1]<<(2*half), mk[2]|mk[3]<<(2*half)
		r := t - t0
		yo := (z0*out[1]+y0)*out[2] + x0
		for oc := ocLo; oc < ocHi; oc++ {
			o := (n*cout+oc)*g.outSp + yo
			var b float32
			if ep.Bias != nil {
				b = ep.Bias[oc]
			}
			var res *float32
			if ep.Residual != nil {
				res = &ep.Residual[o]
			}
			if st != nil {
				winoOutput8(&m[oc*bt+r], ms, &wg.y[o], out[2], out[1]*out[2], mk01, mk23, b, res, wg.relu, &st[0])
			} else {
				winoOutput(&m[oc*bt+r], ms, &wg.y[o], out[2], out[1]*out[2], mk01, mk23, b, res, wg.relu)
			}
		}
	})
}
