package nn

// Convolution by chunked im2col + GEMM. The column buffer holds a block of
// output lines (fixed od, oh; all ow) at a time, so memory stays bounded
// (about 8 MB) whatever the volume size, and each GEMM is still large.

const colChunkFloats = 1 << 21

// scratch returns a reusable buffer of at least n floats owned by the graph
// (operations run one at a time, so one buffer serves all convolutions).
func (g *Graph) scratchBuf(n int) []float32 {
	if cap(g.scratch) < n {
		g.scratch = make([]float32, n)
	}
	return g.scratch[:n]
}

// chunkLines returns how many output lines one column block holds.
func (c *convGeom) chunkLines(kRows int) int {
	return max(1, colChunkFloats/max(1, kRows*c.out[2]))
}

// im2col fills col (K rows × (l1-l0)·Wo columns) from one group of input
// channels xg for output lines [l0, l1).
func (c *convGeom) im2col(col, xg []float32, kRows, l0, l1 int) {
	wo := c.out[2]
	cs := (l1 - l0) * wo
	pfor(kRows, cs, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			src, kd, kh, kw := c.rowSource(xg, r)
			dst := col[r*cs : (r+1)*cs]
			owLo, owHi, off := c.validW(kw)
			for l := l0; l < l1; l++ {
				line := dst[(l-l0)*wo : (l-l0+1)*wo]
				base, ok := c.lineBase(l, kd, kh)
				if !ok {
					clear(line)
					continue
				}
				clear(line[:owLo])
				clear(line[owHi:])
				if owHi <= owLo {
					continue
				}
				st := c.o.Stride[2]
				s := src[base+off+owLo*st:]
				if st == 1 {
					copy(line[owLo:owHi], s[:owHi-owLo])
				} else {
					for ow := owLo; ow < owHi; ow++ {
						line[ow] = s[(ow-owLo)*st]
					}
				}
			}
		}
	})
}

// col2im adds col (K rows × (l1-l0)·Wo) back into the input-shaped dx for
// lines [l0, l1); rows of one channel go to one worker (no write races).
func (c *convGeom) col2im(dx, col []float32, cinG, l0, l1 int) {
	wo := c.out[2]
	cs := (l1 - l0) * wo
	kv := c.kVol()
	pfor(cinG, kv*cs, func(lo, hi int) {
		for r := lo * kv; r < hi*kv; r++ {
			dst, kd, kh, kw := c.rowSource(dx, r)
			src := col[r*cs : (r+1)*cs]
			owLo, owHi, off := c.validW(kw)
			st := c.o.Stride[2]
			for l := l0; l < l1; l++ {
				base, ok := c.lineBase(l, kd, kh)
				if !ok {
					continue
				}
				if owHi <= owLo {
					continue
				}
				line := src[(l-l0)*wo : (l-l0+1)*wo]
				d := dst[base+off+owLo*st:]
				for ow := owLo; ow < owHi; ow++ {
					d[(ow-owLo)*st] += line[ow]
				}
			}
		}
	})
}

// rowSource returns the channel plane of im2col row r and its kernel offsets.
func (c *convGeom) rowSource(x []float32, r int) (plane []float32, kd, kh, kw int) {
	kv := c.kVol()
	ci, kk := r/kv, r%kv
	kw = kk % c.k[2]
	kh = (kk / c.k[2]) % c.k[1]
	kd = kk / (c.k[1] * c.k[2])
	iv := c.inVol()
	return x[ci*iv : (ci+1)*iv], kd, kh, kw
}

// validW returns the output columns [lo, hi) whose input column for kernel
// offset kw is inside the image, and the input offset of column 0
// (input index = off + ow·stride).
func (c *convGeom) validW(kw int) (lo, hi, off int) {
	st, p, d, w := c.o.Stride[2], c.o.Padding[2], c.o.Dilation[2], c.in[2]
	off = kw*d - p
	lo = 0
	if off < 0 {
		lo = (-off + st - 1) / st
	}
	hi = 0
	if w-1-off >= 0 {
		hi = min(c.out[2], (w-1-off)/st+1)
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi, off
}

// lineBase returns the input offset of row (id, ih) for output line l and
// kernel offsets kd, kh, and whether that row is inside the image.
func (c *convGeom) lineBase(l, kd, kh int) (int, bool) {
	od, oh := l/c.out[1], l%c.out[1]
	id := od*c.o.Stride[0] - c.o.Padding[0] + kd*c.o.Dilation[0]
	ih := oh*c.o.Stride[1] - c.o.Padding[1] + kh*c.o.Dilation[1]
	if id < 0 || id >= c.in[0] || ih < 0 || ih >= c.in[1] {
		return 0, false
	}
	return (id*c.in[1] + ih) * c.in[2], true
}

// groupViews returns the per-sample, per-group slices of x, y and w.
func (c *convGeom) groupViews(n, gi int, x, y, w []float32) (xg, yg, wg []float32) {
	G := c.o.Groups
	cinG, coutG := c.cin/G, c.cout/G
	k := cinG * c.kVol()
	return x[(n*c.cin+gi*cinG)*c.inVol():], y[(n*c.cout+gi*coutG)*c.outVol():], w[gi*coutG*k:]
}

func (g *Graph) convForward(c *convGeom, x, w, y []float32) {
	G := c.o.Groups
	cinG, coutG := c.cin/G, c.cout/G
	K := cinG * c.kVol()
	ov, lines := c.outVol(), c.out[0]*c.out[1]
	step := c.chunkLines(K)
	for n := 0; n < c.n; n++ {
		for gi := 0; gi < G; gi++ {
			xg, yg, wg := c.groupViews(n, gi, x, y, w)
			if c.pointwise() {
				sgemm(false, false, coutG, ov, cinG, 1, wg, K, xg, c.inVol(), 0, yg, ov)
				continue
			}
			for l0 := 0; l0 < lines; l0 += step {
				l1 := min(lines, l0+step)
				cs := (l1 - l0) * c.out[2]
				col := g.scratchBuf(K * cs)
				c.im2col(col, xg, K, l0, l1)
				sgemm(false, false, coutG, cs, K, 1, wg, K, col, cs, 0, yg[l0*c.out[2]:], ov)
			}
		}
	}
}

func (g *Graph) convBackwardData(c *convGeom, w, gy, gx []float32, fresh bool) {
	G := c.o.Groups
	cinG, coutG := c.cin/G, c.cout/G
	K := cinG * c.kVol()
	ov, lines := c.outVol(), c.out[0]*c.out[1]
	step := c.chunkLines(K)
	if fresh && !c.pointwise() {
		clear(gx)
	}
	for n := 0; n < c.n; n++ {
		for gi := 0; gi < G; gi++ {
			dxg, gyg, wg := c.groupViews(n, gi, gx, gy, w)
			if c.pointwise() {
				sgemm(true, false, cinG, c.inVol(), coutG, 1, wg, K, gyg, ov, beta(fresh), dxg, c.inVol())
				continue
			}
			for l0 := 0; l0 < lines; l0 += step {
				l1 := min(lines, l0+step)
				cs := (l1 - l0) * c.out[2]
				col := g.scratchBuf(K * cs)
				sgemm(true, false, K, cs, coutG, 1, wg, K, gyg[l0*c.out[2]:], ov, 0, col, cs)
				c.col2im(dxg, col, cinG, l0, l1)
			}
		}
	}
}

func (g *Graph) convBackwardWeight(c *convGeom, x, gy, gw []float32, fresh bool) {
	G := c.o.Groups
	cinG, coutG := c.cin/G, c.cout/G
	K := cinG * c.kVol()
	ov, lines := c.outVol(), c.out[0]*c.out[1]
	step := c.chunkLines(K)
	for gi := 0; gi < G; gi++ {
		first := fresh
		for n := 0; n < c.n; n++ {
			xg, gyg, _ := c.groupViews(n, gi, x, gy, gw)
			gwg := gw[gi*coutG*K:]
			if c.pointwise() {
				sgemm(false, true, coutG, cinG, ov, 1, gyg, ov, xg, c.inVol(), beta(first), gwg, K)
				first = false
				continue
			}
			for l0 := 0; l0 < lines; l0 += step {
				l1 := min(lines, l0+step)
				cs := (l1 - l0) * c.out[2]
				col := g.scratchBuf(K * cs)
				c.im2col(col, xg, K, l0, l1)
				sgemm(false, true, coutG, K, cs, 1, gyg[l0*c.out[2]:], ov, col, cs, beta(first), gwg, K)
				first = false
			}
		}
	}
}
