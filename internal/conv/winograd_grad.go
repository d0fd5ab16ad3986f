package conv

import "github.com/metasurv/metasurv/internal/parallel"

// The Winograd weight gradient. The forward tile is
// y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, linear in g, so its adjoint gives
//
//	dg = Gᵀ [ Σ_tiles (A dy Aᵀ) ⊙ (Bᵀ d B) ] G
//
// and the sum over tiles is, for each of the 64 positions ξ, a GEMM whose
// depth is the tiles: Z_ξ (OutC × InC) += Y_ξ (OutC × tiles) · V_ξᵀ. The
// micro-kernel wants both operands k-major (the tile index outermost,
// channels innermost), so x and dy are first copied to channels-last
// buffers (16×16 in-register transposes, a pass over the data rather than
// over its 8× larger transforms) and the transforms run over 16 (input) or
// 14 (output) channels per vector, storing straight into the packed
// slivers: V_ξ as [cin/32][tile][32], Y_ξ as [cout/14][tile][14].

// winoGrad is the weight-gradient state of a Winograd plan.
type winoGrad struct {
	wg    *wino
	bt    int    // tiles per block
	cinP  int    // InC rounded up to NR (32)
	coutA int    // OutC rounded up to MR (14)
	coutC int    // channel stride of dyc (≥ coutA, a multiple of lanes)
	lanes int    // channels per transform vector: 16 (AVX-512) or 8 (AVX2)
	xd    [3]int // padded channels-last input dims, 2·tiles+2
	yd    [3]int // padded channels-last gradient dims, 2·tiles
	xc    []float32
	dyc   []float32
	v, y  []float32 // one block's transforms
	z     []float32 // Z[ξ][coutA][cinP]

	xFn, dyFn, tFn, mFn, fFn func(lo, hi int)
	cx, cdy, cdw             []float32
	t0, t1                   int
}

func newWinoGrad(wg *wino) *winoGrad {
	g := wg.g
	kn := wg.kn
	d := &winoGrad{wg: wg}
	d.cinP = (g.p.InC + kn.NR - 1) / kn.NR * kn.NR
	d.coutA = (g.p.OutC + kn.MR - 1) / kn.MR * kn.MR
	d.lanes = wg.run
	// AVX2 reads 8 lanes for 6 channels: 2 channels of slack
	d.coutC = (d.coutA + 2 + d.lanes - 1) / d.lanes * d.lanes
	for i := range 3 {
		d.xd[i] = 2*wg.tiles[i] + 2
		d.yd[i] = 2 * wg.tiles[i]
	}
	perTile := 64 * (d.cinP + d.coutA) * 4
	d.bt = min(wg.ntile, max(16, min(128, winoBlockBytes/perTile)))
	d.xFn, d.dyFn, d.tFn, d.mFn, d.fFn = d.inputRows, d.gradRows, d.transformTiles, d.multiply, d.finish
	return d
}

// backwardWeight adds the weight gradient of the batch to dw.
func (d *winoGrad) backwardWeight(dw, x, dy []float32) {
	g, wg := d.wg.g, d.wg
	// the channels-last copies rely on zero padding cells, which the
	// samples never write
	d.xc = scratch.get(d.xd[0] * d.xd[1] * d.xd[2] * d.cinP)
	d.dyc = scratch.get(d.yd[0] * d.yd[1] * d.yd[2] * d.coutC)
	d.v = scratch.get(64 * d.bt * d.cinP)
	d.y = scratch.get(64 * d.bt * d.coutA)
	d.z = scratch.get(64 * d.coutA * d.cinP)
	clear(d.xc)
	clear(d.dyc)
	clear(d.z)
	workers := parallel.Workers()
	for n := range g.p.N {
		d.cx = x[n*g.p.InC*g.inSp : (n+1)*g.p.InC*g.inSp]
		d.cdy = dy[n*g.p.OutC*g.outSp : (n+1)*g.p.OutC*g.outSp]
		parallel.ForChunks(g.p.In[0]*g.p.In[1], max(1, g.p.In[0]*g.p.In[1]/(4*workers)), d.xFn)
		parallel.ForChunks(g.out[0]*g.out[1], max(1, g.out[0]*g.out[1]/(4*workers)), d.dyFn)
		for t0 := 0; t0 < wg.ntile; t0 += d.bt {
			d.t0, d.t1 = t0, min(t0+d.bt, wg.ntile)
			parallel.ForChunks(d.t1-d.t0, max(1, (d.t1-d.t0)/(2*workers)), d.tFn)
			parallel.ForChunks(64, 4, d.mFn)
		}
	}
	d.cdw = dw
	parallel.ForChunks(g.p.OutC, max(1, 64/g.p.InC), d.fFn)
	d.cx, d.cdy, d.cdw = nil, nil, nil
	scratch.put(d.xc)
	scratch.put(d.dyc)
	scratch.put(d.v)
	scratch.put(d.y)
	scratch.put(d.z)
	d.xc, d.dyc, d.v, d.y, d.z = nil, nil, nil, nil, nil
}

// inputRows copies input rows [lo,hi) (z·H + y) of the current sample to
// the channels-last buffer, at their padded position.
func (d *winoGrad) inputRows(lo, hi int) {
	g := d.wg.g
	in, pad := g.p.In, g.p.Pad
	for r := lo; r < hi; r++ {
		z, yy := r/in[1], r%in[1]
		dst := ((z+pad[0])*d.xd[1]+yy+pad[1])*d.xd[2] + pad[2]
		d.toChannelsLast(d.xc[dst*d.cinP:], d.cinP, d.cx[(z*in[1]+yy)*in[2]:], g.inSp, g.p.InC, in[2])
	}
}

// gradRows copies output-gradient rows [lo,hi) to the channels-last
// buffer (whose cells past the output stay zero).
func (d *winoGrad) gradRows(lo, hi int) {
	g := d.wg.g
	out := g.out
	for r := lo; r < hi; r++ {
		z, yy := r/out[1], r%out[1]
		dst := (z*d.yd[1] + yy) * d.yd[2]
		d.toChannelsLast(d.dyc[dst*d.coutC:], d.coutC, d.cdy[(z*out[1]+yy)*out[2]:], g.outSp, g.p.OutC, out[2])
	}
}

// toChannelsLast transposes one row of w positions of c channels (channel
// stride ld in src) into dst (channel stride 1, position stride cs).
func (d *winoGrad) toChannelsLast(dst []float32, cs int, src []float32, ld, c, w int) {
	b := d.lanes
	for c0 := 0; c0 < c; c0 += b {
		for w0 := 0; w0 < w; w0 += b {
			cols := uint64(1)<<min(b, w-w0) - 1
			if b == 16 {
				winoTranspose16(&src[c0*ld+w0], ld, &dst[w0*cs+c0], cs, min(b, c-c0), cols)
			} else {
				winoTranspose8(&src[c0*ld+w0], ld, &dst[w0*cs+c0], cs, min(b, c-c0), cols)
			}
		}
	}
}

// transformTiles writes the transforms of tiles [t0+lo, t0+hi) of the
// current block into the packed V and Y operands.
func (d *winoGrad) transformTiles(lo, hi int) {
	wg, g := d.wg, d.wg.g
	st := getStage()
	mr, nr := wg.kn.MR, wg.kn.NR
	xw, xh, xdd := d.cinP, d.xd[2]*d.cinP, d.xd[1]*d.xd[2]*d.cinP
	yw, yh, ydd := d.coutC, d.yd[2]*d.coutC, d.yd[1]*d.yd[2]*d.coutC
	vs, ys := d.bt*d.cinP, d.bt*d.coutA
	for t := d.t0 + lo; t < d.t0+hi; t++ {
		r := t - d.t0
		tw := t % wg.tiles[2]
		th := t / wg.tiles[2] % wg.tiles[1]
		td := t / (wg.tiles[2] * wg.tiles[1])
		xo := (2*td*d.xd[1]+2*th)*d.xd[2] + 2*tw
		for c0 := 0; c0 < g.p.InC; c0 += d.lanes {
			x, v := &d.xc[xo*d.cinP+c0], &d.v[(c0/nr)*d.bt*nr+r*nr+c0%nr]
			if d.lanes == 16 {
				winoInputCL(x, xw, xh, xdd, &st[0], v, vs)
			} else {
				winoInputCL8(x, xw, xh, xdd, &st[0], v, vs)
			}
		}
		yo := (2*td*d.yd[1]+2*th)*d.yd[2] + 2*tw
		for c0 := 0; c0 < g.p.OutC; c0 += mr {
			dy, y := &d.dyc[yo*d.coutC+c0], &d.y[(c0/mr)*d.bt*mr+r*mr]
			if d.lanes == 16 {
				winoGradCL(dy, yw, yh, ydd, y, ys)
			} else {
				winoGradCL6(dy, yw, yh, ydd, y, ys)
			}
		}
	}
	scratch.put(st)
}

// multiply accumulates Z_ξ += Y_ξ·V_ξᵀ over the current block for ξ in
// [lo,hi).
func (d *winoGrad) multiply(lo, hi int) {
	kn := d.wg.kn
	k := d.t1 - d.t0
	vs, ys, zs := d.bt*d.cinP, d.bt*d.coutA, d.coutA*d.cinP
	for xi := lo; xi < hi; xi++ {
		for cs := 0; cs < d.coutA; cs += kn.MR {
			a := d.y[xi*ys+cs*d.bt:]
			for js := 0; js < d.cinP; js += kn.NR {
				kn.RunRows(d.wg.g.p.OutC-cs, k, a, d.v[xi*vs+js*d.bt:], d.z[xi*zs+cs*d.cinP+js:], d.cinP, 1)
			}
		}
	}
}

// finish adds Gᵀ Z G of output channels [lo,hi) to the weight gradient,
// 16 (AVX2: 8) input channels at a time (Z's padding channels give unused
// lanes).
func (d *winoGrad) finish(lo, hi int) {
	cin := d.wg.g.p.InC
	zs := d.coutA * d.cinP
	st := getStage()
	var taps [27 * 16]float32
	b := d.lanes
	for oc := lo; oc < hi; oc++ {
		for ic0 := 0; ic0 < cin; ic0 += b {
			if b == 16 {
				winoFinish(&d.z[oc*d.cinP+ic0], zs, &st[0], &taps[0])
			} else {
				winoFinish8(&d.z[oc*d.cinP+ic0], zs, &st[0], &taps[0])
			}
			for l := range min(b, cin-ic0) {
				dst := (*[27]float32)(d.cdw[(oc*cin+ic0+l)*27:])
				for q := range dst {
					dst[q] += taps[q*b+l]
				}
			}
		}
	}
	scratch.put(st)
}

// kernelTransformT is the adjoint of kernelTransform: r = Gᵀ m G along the
// three axes, Gᵀ = [1 ½ ½ 0; 0 ½ -½ 0; 0 ½ ½ 1].
func kernelTransformT(r *[27]float32, m *[64]float32) {
	var a [48]float32 // [4 i][4 j][3 k]
	for q := range 16 {
		m0, m1, m2, m3 := m[q*4], m[q*4+1], m[q*4+2], m[q*4+3]
		a[q*3], a[q*3+1], a[q*3+2] = m0+(m1+m2)*0.5, (m1-m2)*0.5, (m1+m2)*0.5+m3
	}
	var b [36]float32 // [4 i][3 j][3 k]
	for i := range 4 {
		for k := range 3 {
			m0, m1, m2, m3 := a[i*12+k], a[i*12+3+k], a[i*12+6+k], a[i*12+9+k]
			b[i*9+k], b[i*9+3+k], b[i*9+6+k] = m0+(m1+m2)*0.5, (m1-m2)*0.5, (m1+m2)*0.5+m3
		}
	}
	for jk := range 9 {
		m0, m1, m2, m3 := b[jk], b[9+jk], b[18+jk], b[27+jk]
		r[jk], r[9+jk], r[18+jk] = m0+(m1+m2)*0.5, (m1-m2)*0.5, (m1+m2)*0.5+m3
	}
}
