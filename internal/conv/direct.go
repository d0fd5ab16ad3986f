package conv

import (
	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/internal/parallel"
)

// The direct convolution. The input of one (sample, group) is copied into
// a zero-padded buffer xp split into stride phases: phase (a, b, c) holds
// the padded input cells whose coordinates are (a, b, c) modulo the stride,
// on a grid of ceil(padded/stride) cells per axis (Pd, Ph, Pw). Outputs are
// computed on that grid, q = od·Ph·Pw + oh·Pw + ow: the input cell of tap
// (kd, kh, kw) is then in phase (kd·dil mod s, ...) at the constant shift
// (kd·dil div s)·Ph·Pw + ..., so an 8-channel × 48-position output tile is a
// sum over taps and input channels of 48 contiguous floats of xp times a
// broadcast weight, accumulated in registers by directKern8x48 without any
// column matrix. Grid positions with ow >= OW or oh >= OH are computed and
// dropped (about (Ph·Pw)/(OH·OW) - 1 extra work). Forward tiles cover the
// output rows of one plane each (skipping the grid rows oh >= OH), or run
// straight through the flattened grid (small planes, where a plane's last
// partial tile would waste more), or cover one output row each (rows of
// 48 outputs, as the stem's, compute no padding column at all): whichever
// computes the fewest positions. Groups of a multiple of 64 output channels
// use the channel-vector tiles of direct_oc.go instead (6 outputs of a row
// × 64 channels, no cache-line-split loads); the weight gradient reduces
// along the grid with dwKern8x3 (see backwardWeight).
const dirMR, dirNR = 8, 48

// gridSlack zero floats after each padded channel let kernels read whole
// vectors past the last grid position (at most 64 floats past it).
const gridSlack = 64

type direct struct {
	pad      [3]int // phase grid dims Pd, Ph, Pw
	plane    int    // Ph*Pw
	phases   int    // prod(stride)
	spP      int    // channel stride of xp (phase volume + slack)
	qmax     int    // grid positions up to the last output
	qTiles   int    // tiles of dirNR grid positions up to qmax
	rowSpan  int    // grid positions of one plane's output rows, OH*Pw
	perPlane int    // forward tiles per output plane, ceil(rowSpan/dirNR)
	// forward tiling: blocks of per tiles, block b starting at grid
	// position (b/bRows)*plane + (b%bRows)*Pw and computing its first span
	// positions (the output planes, one block over the flattened grid, or
	// the output rows)
	blocks, bRows, per, span int
	slivers                  int     // ceil(ocg/8)
	tb                       int     // taps per K block (all of them, or one kd plane)
	cb                       int     // input channels per K block
	oc                       *ocPlan // channel-vector forward, or nil
	ocFn                     func(lo, hi int)
	offs                     []int // byte offset of every tap
	wpk                      [][]float32
	xp                       []float32
	maxShift                 int       // largest grid shift of a tap within its phase
	dyp                      []float32 // output gradient on the padded grid (BackwardWeight)
	bwOffs                   []int     // offs padded to whole tap blocks (BackwardWeight)
	bwAcc                    []float32 // dwKern8x3 sums per (oc block, ic, tap block)
	curY                     []float32
	curEp                    *Epilogue
	curYo                    int // offset of the current (sample, group) output in y
	curGroup                 int
	fn                       func(lo, hi int)

	// per-call state of the loops below, bound once as method values so
	// that calls do not allocate closures
	g                   *geometry
	cx, cdy             []float32
	cq0, cn, cic0, cic1 int
	cdw                 []float32
	cpk, cw             []float32 // pack: destination and group weights
	fillFn, dyFn        func(lo, hi int)
	bwFn, bwOutFn       func(lo, hi int)
	packFn              func(lo, hi int)
}

// useDirect reports whether the direct kernel applies to g: not for
// depthwise layers (their own kernel) nor for pointwise stride-1 ones (a
// plain GEMM) or large strides, and only while the computed grid is less
// than maxGridWaste times the output.
func useDirect(g *geometry) bool {
	if g.icg == 1 && g.p.Groups > 1 || g.kvol == 1 && g.p.Stride == [3]int{1, 1, 1} {
		return false
	}
	for _, s := range g.p.Stride {
		if s > 2 { // patch embeddings: the column matrix is a reshape, GEMM wins
			return false
		}
	}
	d := newDirect(g)
	n := d.blocks * d.per * dirNR
	if d.oc != nil {
		n = d.oc.tiles * ocNP
	}
	return float64(n) < maxGridWaste*float64(g.outSp)
}

// maxGridWaste is the largest ratio of computed grid positions to outputs
// for which the direct kernel beats the column-matrix GEMM (tests raise it
// to run the direct kernel on small shapes).
var maxGridWaste = 2.0

func newDirect(g *geometry) *direct {
	d := &direct{phases: 1, g: g}
	d.fillFn, d.dyFn = d.fillRange, d.dyRange
	d.bwFn, d.bwOutFn = d.bwRange, d.bwOutRange
	d.packFn = d.packRange
	s := g.p.Stride
	for i := range 3 {
		d.pad[i] = (g.p.In[i] + 2*g.p.Pad[i] + s[i] - 1) / s[i]
		d.phases *= s[i]
	}
	d.plane = d.pad[1] * d.pad[2]
	d.qmax = (g.out[0]-1)*d.plane + (g.out[1]-1)*d.pad[2] + g.out[2]
	d.qTiles = (d.qmax + dirNR - 1) / dirNR
	d.rowSpan = g.out[1] * d.pad[2]
	d.perPlane = (d.rowSpan + dirNR - 1) / dirNR
	d.blocks, d.bRows, d.per, d.span = g.out[0], 1, d.perPlane, d.rowSpan
	if d.qTiles < d.blocks*d.per {
		d.blocks, d.per, d.span = 1, d.qTiles, d.qmax
	}
	if perRow := (g.out[2] + dirNR - 1) / dirNR; g.out[0]*g.out[1]*perRow < d.blocks*d.per {
		d.blocks, d.bRows, d.per, d.span = g.out[0]*g.out[1], g.out[1], perRow, g.out[2]
	}
	// the last tile of a plane may read a row past the plane's end
	d.spP = d.pad[0]*d.plane + gridSlack + d.pad[2]
	d.slivers = (g.ocg + dirMR - 1) / dirMR
	// K blocks of about 256 (channel, tap) steps whose input rows stay in
	// L1 while every sliver of output channels runs over them
	d.tb = g.kvol
	if g.kvol > 64 {
		d.tb = g.p.Kernel[1] * g.p.Kernel[2]
	}
	d.cb = min(g.icg, max(1, 256/d.tb))
	for kd := range g.p.Kernel[0] {
		for kh := range g.p.Kernel[1] {
			for kw := range g.p.Kernel[2] {
				z, y, x := kd*g.p.Dilation[0], kh*g.p.Dilation[1], kw*g.p.Dilation[2]
				phase := ((z%s[0])*s[1]+y%s[1])*s[2] + x%s[2]
				shift := z/s[0]*d.plane + y/s[1]*d.pad[2] + x/s[2]
				d.offs = append(d.offs, 4*(phase*g.icg*d.spP+shift))
				d.maxShift = max(d.maxShift, shift)
			}
		}
	}
	d.oc, d.ocFn = newOCPlan(d, g), d.ocRange
	return d
}

// pack lays out the weights of every group as [tap block][sliver][ic][tap
// in block][8 rows], so that each kernel call reads one contiguous run.
//
// The buffers of a previous call are reused: the geometry is fixed, so the
// same cells are written and the padding rows stay zero.
func (d *direct) pack(g *geometry, w []float32) {
	if d.oc != nil {
		d.oc.pack(g, w)
		return
	}
	prev := d.wpk
	d.wpk = d.wpk[:0]
	for gi := range g.p.Groups {
		n := d.slivers * g.kvol * g.icg * dirMR
		var pk []float32
		if gi < len(prev) && len(prev[gi]) == n {
			pk = prev[gi]
		} else {
			pk = make([]float32, n)
		}
		d.g, d.cpk, d.cw = g, pk, w[gi*g.ocg*g.icg*g.kvol:]
		parallel.ForChunks(d.slivers, max(1, 1<<14/(dirMR*g.icg*g.kvol)), d.packFn)
		d.cpk, d.cw = nil, nil
		d.wpk = append(d.wpk, pk)
	}
}

// packRange packs the output-channel slivers [lo, hi) of one group's
// weights d.cw into d.cpk (see pack); slivers own disjoint parts of it.
func (d *direct) packRange(lo, hi int) {
	g, pk, wg := d.g, d.cpk, d.cw
	for s := lo; s < hi; s++ {
		for r := range min(dirMR, g.ocg-s*dirMR) {
			oc := s*dirMR + r
			for ic := range g.icg {
				src := wg[(oc*g.icg+ic)*g.kvol:][:g.kvol]
				for j := range g.kvol / d.tb {
					dst := pk[((j*d.slivers+s)*g.icg+ic)*d.tb*dirMR+r:]
					for tt, v := range src[j*d.tb : (j+1)*d.tb] {
						dst[tt*dirMR] = v
					}
				}
			}
		}
	}
}

// sliverGroup is how many slivers of output channels a work item computes
// over one K block while its input rows are in L1.
const sliverGroup = 8

// fillPadded copies icg channels of one (sample, group) input into the
// phases of xp, borrowed from the package's pool (the caller returns it
// with releasePadded): the stem's is 17 MB at 96³, and the layers run one
// after the other, so one buffer serves them all (and the Winograd and
// column workspaces between them). The cells in the padding are zeroed.
func (d *direct) fillPadded(g *geometry, x []float32) {
	d.xp = scratch.get(d.phases * g.icg * d.spP)
	d.cx = x
	parallel.ForChunks(g.icg, 1, d.fillFn)
	d.cx = nil
}

// releasePadded returns xp to the pool.
func (d *direct) releasePadded() {
	scratch.put(d.xp)
	d.xp = nil
}

func (d *direct) fillRange(lo, hi int) {
	for ic := lo; ic < hi; ic++ {
		d.clearPadding(d.g, d.xp, ic)
		d.fillChannel(d.g, d.xp, ic, d.cx[ic*d.g.inSp:(ic+1)*d.g.inSp])
	}
}

// phaseCells returns the grid cells [lo, hi) of phase a along an axis of n
// inputs with padding p and stride s (cell t holds input t·s + a - p),
// within the axis' cells grid.
func phaseCells(n, p, s, a, grid int) (lo, hi int) {
	if p > a {
		lo = (p - a + s - 1) / s
	}
	last := n - 1 + p - a
	if last < 0 {
		return 0, 0
	}
	return lo, max(lo, min(grid, last/s+1))
}

// clearPadding zeroes the cells of input channel ic in every phase of xp
// that fillChannel does not write: padding planes, rows and columns, the
// slack after each channel.
func (d *direct) clearPadding(g *geometry, xp []float32, ic int) {
	in, p, s := g.p.In, g.p.Pad, g.p.Stride
	for a := range s[0] {
		z0, z1 := phaseCells(in[0], p[0], s[0], a, d.pad[0])
		for b := range s[1] {
			y0, y1 := phaseCells(in[1], p[1], s[1], b, d.pad[1])
			for c := range s[2] {
				c0, c1 := phaseCells(in[2], p[2], s[2], c, d.pad[2])
				base := (((a*s[1]+b)*s[2]+c)*g.icg + ic) * d.spP
				pos := base
				if c0 < c1 {
					for z := z0; z < z1; z++ {
						for y := y0; y < y1; y++ {
							row := base + z*d.plane + y*d.pad[2]
							clear(xp[pos : row+c0])
							pos = row + c1
						}
					}
				}
				clear(xp[pos : base+d.spP])
			}
		}
	}
}

// fillChannel writes every stride phase of input channel ic (src) into xp
// (layout [phase][icg][spP]). Each input row is read once: copied into its
// phase row at stride 1 along w, split into the two phases at stride 2
// (with AVX-512, all the rows of one phase plane in one deint2 call).
func (d *direct) fillChannel(g *geometry, xp []float32, ic int, src []float32) {
	in, p, s := g.p.In, g.p.Pad, g.p.Stride
	for a := range s[0] {
		for b := range s[1] {
			ph := (a*s[1] + b) * s[2]
			// phase rows hy0 <= hy < hy1 hold input rows y = hy*s+b-p
			hy0 := max(0, (p[1]-b+s[1]-1)/s[1])
			hy1 := 0
			if last := in[1] - 1 + p[1] - b; last >= 0 {
				hy1 = min(d.pad[1], last/s[1]+1)
			}
			if hy0 >= hy1 {
				continue
			}
			for dz := range d.pad[0] {
				z := dz*s[0] + a - p[0]
				if z < 0 || z >= in[0] {
					continue
				}
				at := (ph*g.icg+ic)*d.spP + dz*d.plane
				y0 := hy0*s[1] + b - p[1]
				if s[2] == 2 && haveDirect() {
					d.fillPlane2(g, xp, at, src[(z*in[1]+y0)*in[2]:], hy0, hy1)
					continue
				}
				for hy := hy0; hy < hy1; hy++ {
					y := hy*s[1] + b - p[1]
					d.fillRow(g, xp, at+hy*d.pad[2], src[(z*in[1]+y)*in[2]:][:in[2]])
				}
			}
		}
	}
}

// fillPlane2 splits the input rows of phase rows [hy0, hy1) of one phase
// plane (starting at xp[at], src holding the first row) into their two
// stride-2 phases with one deint2 call.
func (d *direct) fillPlane2(g *geometry, xp []float32, at int, src []float32, hy0, hy1 int) {
	n, p, rows := g.p.In[2], g.p.Pad[2], hy1-hy0
	sstride := g.p.Stride[1] * n
	even := at + p%2*g.icg*d.spP + p/2 + hy0*d.pad[2]
	odd := at + (1-p%2)*g.icg*d.spP + (p+1)/2 + hy0*d.pad[2]
	// bounds of the last row read and written
	_ = src[(rows-1)*sstride+n-1]
	_ = xp[even+(rows-1)*d.pad[2]+(n+1)/2-1]
	if n > 1 {
		_ = xp[odd+(rows-1)*d.pad[2]+n/2-1]
	} else {
		odd = even // not written
	}
	deint2(&src[0], n, rows, 4*sstride, &xp[even], &xp[odd], 4*d.pad[2])
}

// fillRow writes one input row into the phase rows that start at xp[at]
// (phase c of the w axis g.icg*d.spP floats further): input column i goes
// to phase (i+p) mod s, cell (i+p) div s.
func (d *direct) fillRow(g *geometry, xp []float32, at int, row []float32) {
	p := g.p.Pad[2]
	if g.p.Stride[2] == 1 {
		copy(xp[at+p:at+p+len(row)], row)
		return
	}
	if s := g.p.Stride[2]; s > 2 { // depthwise layers: column c to phase c mod s
		for i, v := range row {
			c := i + p
			xp[at+c%s*g.icg*d.spP+c/s] = v
		}
		return
	}
	// stride 2: even columns to phase p mod 2 from cell p/2, odd columns
	// to the other phase from cell (p+1)/2
	even := xp[at+p%2*g.icg*d.spP+p/2:][:(len(row)+1)/2]
	odd := xp[at+(1-p%2)*g.icg*d.spP+(p+1)/2:][:len(row)/2]
	deinterleave2(row, even, odd)
}

// deinterleave2 stores the even elements of row in even and the odd ones in
// odd (len(even) = ceil(len(row)/2), len(odd) = floor(len(row)/2)).
func deinterleave2(row, even, odd []float32) {
	if haveDirect() {
		if len(row) > 0 {
			o := &even[0] // not written when odd is empty
			if len(odd) > 0 {
				o = &odd[0]
			}
			deint2(&row[0], len(row), 1, 0, &even[0], o, 0)
		}
		return
	}
	for i, v := range row {
		if i%2 == 0 {
			even[i/2] = v
		} else {
			odd[i/2] = v
		}
	}
}

// gridIndex maps grid position q to its output index, or -1 when q is a
// padding column or row.
func (d *direct) gridIndex(g *geometry, q int) int {
	od, rem := q/d.plane, q%d.plane
	oh, ow := rem/d.pad[2], rem%d.pad[2]
	if od >= g.out[0] || oh >= g.out[1] || ow >= g.out[2] {
		return -1
	}
	return (od*g.out[1]+oh)*g.out[2] + ow
}

// forward computes one (sample, group): y[yo + oc*outSp + ...].
func (d *direct) forward(pl *Plan, x, y []float32, yo, gi int, ep *Epilogue) {
	g := &pl.g
	d.fillPadded(g, x)
	defer d.releasePadded()
	d.curY, d.curEp, d.curYo, d.curGroup = y, ep, yo, gi
	if d.oc != nil {
		d.forwardOC()
		d.curY, d.curEp = nil, nil
		return
	}
	if d.fn == nil {
		d.fn = func(lo, hi int) { d.tiles(d.g, lo, hi) }
	}
	groups := (d.slivers + sliverGroup - 1) / sliverGroup
	parallel.ForChunks(d.blocks*d.per*groups, 1, d.fn)
	d.curY, d.curEp = nil, nil
}

// outRun is a run of n tile positions from j on that are the consecutive
// outputs o, o+1, ...: a piece of one output row.
type outRun struct{ j, n, o int }

// tileRuns lists the output runs of the forward tile whose first grid
// position is q0 and whose positions from lim on lie outside its block.
func (d *direct) tileRuns(g *geometry, q0, lim int, runs *[dirNR]outRun) int {
	nr := 0
	for j := range min(dirNR, lim) {
		o := d.gridIndex(g, q0+j)
		if o < 0 {
			continue
		}
		if nr > 0 {
			if r := &runs[nr-1]; r.j+r.n == j && r.o+r.n == o {
				r.n++
				continue
			}
		}
		runs[nr] = outRun{j, 1, o}
		nr++
	}
	return nr
}

func (d *direct) tiles(g *geometry, lo, hi int) {
	var tmp [sliverGroup][dirMR * dirNR]float32
	var runs [dirNR]outRun
	nr := 0
	ep, y, gi := d.curEp, d.curY, d.curGroup
	groups := (d.slivers + sliverGroup - 1) / sliverGroup
	lastTile := -1
	for it := lo; it < hi; it++ {
		tile, sg := it/groups, it%groups
		blk, t := tile/d.per, tile%d.per
		q0 := blk/d.bRows*d.plane + blk%d.bRows*d.pad[2] + t*dirNR
		if tile != lastTile {
			nr = d.tileRuns(g, q0, d.span-t*dirNR, &runs)
			lastTile = tile
		}
		s0, s1 := sg*sliverGroup, min(d.slivers, (sg+1)*sliverGroup)
		pk := d.wpk[gi]
		for j := 0; j*d.tb < g.kvol; j++ {
			for ic0 := 0; ic0 < g.icg; ic0 += d.cb {
				nc := min(d.cb, g.icg-ic0)
				acc := 0
				if j > 0 || ic0 > 0 {
					acc = 1
				}
				for s := s0; s < s1; s++ {
					a := pk[(((j*d.slivers+s)*g.icg+ic0)*d.tb)*dirMR:]
					directKern8x48(&a[0], &d.xp[ic0*d.spP+q0], &d.offs[j*d.tb], d.tb, nc, 4*d.spP, &tmp[s-s0][0], acc)
				}
			}
		}
		for s := s0; s < s1; s++ {
			d.scatter(g, ep, y, gi, s, tmp[s-s0][:], runs[:nr])
		}
	}
}

// scatter writes the output runs of one sliver's tile to the output,
// applying the epilogue.
func (d *direct) scatter(g *geometry, ep *Epilogue, y []float32, gi, s int, tmp []float32, runs []outRun) {
	plain := ep.Residual == nil && ep.Act == gemm.None
	for r := range min(dirMR, g.ocg-s*dirMR) {
		oc := s*dirMR + r
		var b float32
		if ep.Bias != nil {
			b = ep.Bias[gi*g.ocg+oc]
		}
		base := d.curYo + oc*g.outSp
		row := tmp[r*dirNR : (r+1)*dirNR]
		for _, u := range runs {
			dst, src := y[base+u.o:base+u.o+u.n], row[u.j:u.j+u.n]
			if plain {
				addRow(&dst[0], &src[0], u.n, b)
				continue
			}
			var res []float32
			if ep.Residual != nil {
				res = ep.Residual[base+u.o : base+u.o+u.n]
			}
			storeEpilogue(dst, src, res, b, ep.Act)
		}
	}
}

// storeEpilogue stores Act(src[i] + b + res[i]) in dst[i] (res may be nil).
func storeEpilogue(dst, src, res []float32, b float32, act gemm.Activation) {
	src = src[:len(dst)]
	for i, v := range src {
		v += b
		if res != nil {
			v += res[i]
		}
		switch act {
		case gemm.ReLU:
			v = max(v, 0)
		case gemm.GELU:
			v = gemm.Gelu(v)
		}
		dst[i] = v
	}
}

// The weight gradient: dW[oc][ic][t] = Σ_q dY[oc][q] · xp[ic][q + off_t]
// over the grid, with dY copied onto the grid (zero at its padding
// positions) so that both operands are contiguous along q. dwKern8x3
// reduces along q for a tile of 8 output channels × 3 taps (3×3×3 kernels
// are whole tap blocks; only the 3 shifted input rows may cross cache
// lines); the grid is cut into blocks of bwQ positions so that the tile's
// dY rows stay in L1 while the taps of every input channel run over them,
// and the per-tile sums stay in bwAcc until the end. No column matrix and no transposition.
const (
	bwOC, bwTaps = 8, 3
	bwQ          = 1024
	bwOut        = 32 // floats per dwKern8x3 result
)

// bwBlockBytes bounds the grid windows of the input channels processed
// together (a variable so that tests can force one channel per block).
var bwBlockBytes = 512 << 10

// dwKernOrder[i] is the accumulator oc*bwTaps+t that dwKern8x3 adds to
// out[i], or -1 where it repeats one.
var dwKernOrder = [bwOut]int8{0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15,
	16, 17, -1, -1, 20, 21, -1, -1, 18, 19, -1, -1, 22, 23, -1, -1}

// backwardWeight adds the weight gradient of one (sample, group) to dw.
func (d *direct) backwardWeight(pl *Plan, dw, x, dy []float32) {
	g := &pl.g
	d.fillPadded(g, x)
	defer d.releasePadded()
	qn := d.qTiles * dirNR
	obs := (g.ocg + bwOC - 1) / bwOC
	if len(d.dyp) < obs*bwOC*qn { // rows past ocg stay zero
		d.dyp = make([]float32, obs*bwOC*qn)
	}
	d.cdy = dy
	parallel.ForChunks(g.ocg, 1, d.dyFn)
	d.cdy = nil
	tbs := (g.kvol + bwTaps - 1) / bwTaps
	if len(d.bwOffs) != tbs*bwTaps { // the padding taps repeat the last one
		d.bwOffs = append([]int(nil), d.offs...)
		for len(d.bwOffs) < tbs*bwTaps {
			d.bwOffs = append(d.bwOffs, d.offs[g.kvol-1])
		}
	}
	if n := obs * g.icg * tbs * bwOut; len(d.bwAcc) < n {
		d.bwAcc = make([]float32, n)
	} else {
		clear(d.bwAcc[:n])
	}
	// input channels per block: their grid windows stay in L2
	window := d.phases * (bwQ + d.maxShift) * 4
	icb := max(1, bwBlockBytes/window)
	for q0 := 0; q0 < qn; q0 += bwQ {
		for ic0 := 0; ic0 < g.icg; ic0 += icb {
			d.cq0, d.cn, d.cic0, d.cic1 = q0, min(bwQ, qn-q0), ic0, min(g.icg, ic0+icb)
			parallel.ForChunks(obs, 1, d.bwFn)
		}
	}
	d.cdw = dw
	parallel.ForChunks(obs, 1, d.bwOutFn)
	d.cdw = nil
}

// bwRange runs the weight-gradient tiles of output-channel blocks [lo,hi)
// over the current grid block and input channels.
func (d *direct) bwRange(lo, hi int) {
	g := d.g
	qn := d.qTiles * dirNR
	tbs := len(d.bwOffs) / bwTaps
	for ob := lo; ob < hi; ob++ {
		dyRow := &d.dyp[ob*bwOC*qn+d.cq0]
		for ic := d.cic0; ic < d.cic1; ic++ {
			x := &d.xp[ic*d.spP+d.cq0]
			acc := d.bwAcc[(ob*g.icg+ic)*tbs*bwOut:][:tbs*bwOut]
			for tb := range tbs {
				dwKern8x3(dyRow, 4*qn, x, &d.bwOffs[tb*bwTaps], d.cn, &acc[tb*bwOut])
			}
		}
	}
}

// bwOutRange adds the sums of output-channel blocks [lo,hi) to d.cdw.
func (d *direct) bwOutRange(lo, hi int) {
	g := d.g
	tbs := len(d.bwOffs) / bwTaps
	// out[i] of a tile is the sum of output channel oc[i], tap tap[i]
	// (-1: a repeat) and goes to dst[i] past the tile's first weight
	var dst, oc, tap [bwOut]int
	for i, k := range dwKernOrder {
		dst[i], oc[i], tap[i] = -1, bwOC, bwTaps
		if k >= 0 {
			oc[i], tap[i] = int(k)/bwTaps, int(k)%bwTaps
			dst[i] = oc[i]*g.k + tap[i]
		}
	}
	for ob := lo; ob < hi; ob++ {
		for ic := range g.icg {
			acc := d.bwAcc[(ob*g.icg+ic)*tbs*bwOut:][:tbs*bwOut]
			for tb := range tbs {
				out := acc[tb*bwOut : (tb+1)*bwOut]
				base := ob*bwOC*g.k + ic*g.kvol + tb*bwTaps
				if (ob+1)*bwOC <= g.ocg && (tb+1)*bwTaps <= g.kvol {
					dw := d.cdw[base : base+(bwOC-1)*g.k+bwTaps]
					for i, o := range dst {
						if o >= 0 {
							dw[o] += out[i]
						}
					}
					continue
				}
				// ragged tile: only its first nOC channels and nT taps exist
				nOC, nT := min(bwOC, g.ocg-ob*bwOC), min(bwTaps, g.kvol-tb*bwTaps)
				for i, o := range dst {
					if o >= 0 && oc[i] < nOC && tap[i] < nT {
						d.cdw[base+o] += out[i]
					}
				}
			}
		}
	}
}

// dyRange copies the output gradient of channels [lo,hi) onto the grid.
func (d *direct) dyRange(lo, hi int) {
	g := d.g
	qn := d.qTiles * dirNR
	for oc := lo; oc < hi; oc++ {
		row := d.dyp[oc*qn : (oc+1)*qn]
		end := 0 // cells before end are written; only the gaps are cleared
		for od := range g.out[0] {
			for oh := range g.out[1] {
				q, o := od*d.plane+oh*d.pad[2], (od*g.out[1]+oh)*g.out[2]
				clear(row[end:q])
				end = q + copy(row[q:q+g.out[2]], d.cdy[oc*g.outSp+o:])
			}
		}
		clear(row[end:])
	}
}

// adjointParams returns the stride-1 convolution that computes this
// layer's data gradient (dy in, dx out, flipped and transposed weights,
// padding d·(k-1) - p), and whether it exists (stride 1, padding <= d·(k-1)).
func adjointParams(p Params) (Params, bool) {
	if p.Stride != [3]int{1, 1, 1} {
		return Params{}, false
	}
	a := Params{N: p.N, InC: p.OutC, OutC: p.InC, In: p.Out(), Kernel: p.Kernel, Dilation: p.Dilation, Groups: p.Groups}
	for i := range 3 {
		a.Pad[i] = p.Dilation[i]*(p.Kernel[i]-1) - p.Pad[i]
		if a.Pad[i] < 0 {
			return a, false
		}
	}
	return a, a.Validate() == nil
}

// adjointWeights writes w' (InC, OutC/Groups, k...) with w'[g·icg+ic][oc][t] = w[g·ocg+oc][ic][kvol-1-t].
func adjointWeights(g *geometry, dst, w []float32) {
	for gi := range g.p.Groups {
		for oc := range g.ocg {
			for ic := range g.icg {
				src := w[((gi*g.ocg+oc)*g.icg+ic)*g.kvol:][:g.kvol]
				out := dst[((gi*g.icg+ic)*g.ocg+oc)*g.kvol:][:g.kvol]
				for t, v := range src {
					out[g.kvol-1-t] = v
				}
			}
		}
	}
}
