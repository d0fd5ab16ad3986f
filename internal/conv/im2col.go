package conv

// geometry caches the index arithmetic of one convolution shape.
type geometry struct {
	p        Params // normalized
	out      [3]int
	inSp     int // prod(In)
	outSp    int // prod(out)
	icg, ocg int // channels per group
	kvol     int
	k        int // GEMM depth icg*kvol
}

func newGeometry(p Params) geometry {
	p = p.normalized()
	g := geometry{p: p, out: p.Out(), icg: p.InC / p.Groups, ocg: p.OutC / p.Groups, kvol: p.kvol()}
	g.inSp = p.In[0] * p.In[1] * p.In[2]
	g.outSp = g.out[0] * g.out[1] * g.out[2]
	g.k = g.icg * g.kvol
	return g
}

// row decodes GEMM row r = (ic, kd, kh, kw) of the column matrix.
func (g *geometry) row(r int) (ic, kd, kh, kw int) {
	k := g.p.Kernel
	kw = r % k[2]
	r /= k[2]
	kh = r % k[1]
	r /= k[1]
	kd = r % k[0]
	return r / k[0], kd, kh, kw
}

// im2colRow fills col (length q1-q0) with row r of the column matrix for
// output positions [q0, q1) of one (sample, group) input x (icg channels):
// col[j] = x[ic, od*s-p+kd*d, oh*s-p+kh*d, ow*s-p+kw*d] or 0 in the padding.
// Runs along W are copied with copy() when the stride is 1.
func (g *geometry) im2colRow(col, x []float32, r, q0, q1 int) {
	g.walkRow(r, q0, q1, func(j, src, n int) {
		if src < 0 {
			clear(col[j : j+n])
			return
		}
		sw := g.p.Stride[2]
		if sw == 1 {
			copy(col[j:j+n], x[src:src+n])
			return
		}
		for t := range n {
			col[j+t] = x[src+t*sw]
		}
	})
}

// col2imRow adds row r of a column matrix back into dx (icg channels of one
// sample and group): the adjoint of im2colRow.
func (g *geometry) col2imRow(dx, col []float32, r, q0, q1 int) {
	g.walkRow(r, q0, q1, func(j, src, n int) {
		if src < 0 {
			return
		}
		sw := g.p.Stride[2]
		d := dx[src:]
		c := col[j : j+n]
		if sw == 1 {
			d = d[:n]
			for t, v := range c {
				d[t] += v
			}
			return
		}
		for t, v := range c {
			d[t*sw] += v
		}
	})
}

// walkRow splits the output positions [q0,q1) of column row r into runs
// along W and calls run(j, src, n) for each: n consecutive positions
// starting at offset j of the row read input index src, src+sw, ... or, when
// src < 0, lie in the padding.
func (g *geometry) walkRow(r, q0, q1 int, run func(j, src, n int)) {
	ic, kd, kh, kw := g.row(r)
	p, out := &g.p, g.out
	in := p.In
	xc := ic * g.inSp
	sw := p.Stride[2]
	offW := kw*p.Dilation[2] - p.Pad[2]
	// valid ow satisfy 0 <= ow*sw + offW < in[2]
	owLo := 0
	if offW < 0 {
		owLo = (-offW + sw - 1) / sw
	}
	owHi := 0 // exclusive
	if in[2]-1-offW >= 0 {
		owHi = min(out[2], (in[2]-1-offW)/sw+1)
	}
	q := q0
	for q < q1 {
		od, rem := q/(out[1]*out[2]), q%(out[1]*out[2])
		oh, ow := rem/out[2], rem%out[2]
		n := min(out[2]-ow, q1-q)
		j := q - q0
		id := od*p.Stride[0] - p.Pad[0] + kd*p.Dilation[0]
		ih := oh*p.Stride[1] - p.Pad[1] + kh*p.Dilation[1]
		if id < 0 || id >= in[0] || ih < 0 || ih >= in[1] || owLo >= owHi {
			run(j, -1, n)
			q += n
			continue
		}
		base := xc + (id*in[1]+ih)*in[2] + offW
		end := ow + n
		if ow < owLo {
			m := min(owLo, end) - ow
			run(j, -1, m)
			j, ow = j+m, ow+m
		}
		if ow < owHi && ow < end {
			m := min(owHi, end) - ow
			run(j, base+ow*sw, m)
			j, ow = j+m, ow+m
		}
		if ow < end {
			run(j, -1, end-ow)
		}
		q += n
	}
}
