package conv

import (
	"math"
	"math/rand/v2"
	"testing"
)

// eachTap calls visit(outIndex, inIndex, weightIndex) for every
// multiply-add of the convolution p (normalized): the naive definition that
// every fast kernel is checked against.
func eachTap(p Params, visit func(o, i, w int)) {
	p = p.normalized()
	out := p.Out()
	icg, ocg := p.InC/p.Groups, p.OutC/p.Groups
	for n := range p.N {
		for oc := range p.OutC {
			g := oc / ocg
			for od := range out[0] {
				for oh := range out[1] {
					for ow := range out[2] {
						o := (((n*p.OutC+oc)*out[0]+od)*out[1]+oh)*out[2] + ow
						for ic := range icg {
							c := g*icg + ic
							for kd := range p.Kernel[0] {
								id := od*p.Stride[0] - p.Pad[0] + kd*p.Dilation[0]
								if id < 0 || id >= p.In[0] {
									continue
								}
								for kh := range p.Kernel[1] {
									ih := oh*p.Stride[1] - p.Pad[1] + kh*p.Dilation[1]
									if ih < 0 || ih >= p.In[1] {
										continue
									}
									for kw := range p.Kernel[2] {
										iw := ow*p.Stride[2] - p.Pad[2] + kw*p.Dilation[2]
										if iw < 0 || iw >= p.In[2] {
											continue
										}
										i := (((n*p.InC+c)*p.In[0]+id)*p.In[1]+ih)*p.In[2] + iw
										w := (((oc*icg+ic)*p.Kernel[0]+kd)*p.Kernel[1]+kh)*p.Kernel[2] + kw
										visit(o, i, w)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// refResult holds the float64 results of every pass of one convolution,
// each with the per-value sum of |terms| that errors are measured against.
type refResult struct {
	y, ys   []float64 // forward (with bias)
	dx, dxs []float64 // data gradient
	dw, dws []float64 // weight gradient
	db      []float64 // bias gradient
}

// refAll computes every pass in one traversal of the taps.
func refAll(p Params, x, w, bias, dy []float32) *refResult {
	r := &refResult{y: make([]float64, p.OutLen()), dx: make([]float64, p.InLen()), dw: make([]float64, p.WeightLen())}
	r.ys, r.dxs, r.dws = make([]float64, len(r.y)), make([]float64, len(r.dx)), make([]float64, len(r.dw))
	eachTap(p, func(o, i, k int) {
		xv, wv, gv := float64(x[i]), float64(w[k]), float64(dy[o])
		r.y[o] += xv * wv
		r.ys[o] += math.Abs(xv * wv)
		r.dx[i] += gv * wv
		r.dxs[i] += math.Abs(gv * wv)
		r.dw[k] += xv * gv
		r.dws[k] += math.Abs(xv * gv)
	})
	r.db = make([]float64, p.OutC)
	sp := len(r.y) / (p.N * p.OutC)
	for o := range r.y {
		c := (o / sp) % p.OutC
		r.db[c] += float64(dy[o])
		if bias != nil {
			r.y[o] += float64(bias[c])
			r.ys[o] += math.Abs(float64(bias[c]))
		}
	}
	return r
}

// refForward returns the float64 convolution and its term scale.
func refForward(p Params, x, w, bias []float32) (y, scale []float64) {
	r := refAll(p, x, w, bias, make([]float32, p.OutLen()))
	return r.y, r.ys
}

// refBackwardData returns dx = convᵀ(dy) in float64 with its term scale.
func refBackwardData(p Params, dy, w []float32) (dx, scale []float64) {
	r := refAll(p, make([]float32, p.InLen()), w, nil, dy)
	return r.dx, r.dxs
}

// refBackwardWeight returns dw (with its term scale) and dbias in float64.
func refBackwardWeight(p Params, x, dy []float32) (dw, scale, db []float64) {
	r := refAll(p, x, make([]float32, p.WeightLen()), nil, dy)
	return r.dw, r.dws, r.db
}

// randSlice returns n floats uniform in [-1, 1).
func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*r.Float32() - 1
	}
	return s
}

// checkClose fails t when any got[i] differs from want[i] by more than tol
// times max(scale[i], tiny): the error bound of a float32 sum of terms.
func checkClose(t testing.TB, what string, got []float32, want, scale []float64, tol float64) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i, w := range want {
		s := 1e-30
		if scale != nil {
			s = math.Max(scale[i], s)
		} else {
			s = math.Max(math.Abs(w), 1e-6)
		}
		if d := math.Abs(float64(got[i]) - w); !(d <= tol*s) {
			if bad < 5 {
				t.Errorf("%s[%d] = %g, want %g (scale %g, rel err %.2g)", what, i, got[i], w, s, d/s)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d values out of tolerance %g", what, bad, len(want), tol)
	}
}

// winoScales returns the error scales of the Winograd passes of c (a 3×3×3
// stride-1 convolution): Hölder bounds of what the transforms mix. An
// output of channel oc mixes every input of its tile through every tap,
// so its scale is Σ_ic ‖W[oc,ic]‖₁·max|x[ic]| (with the bias); likewise
// Σ_oc ‖W[oc,ic]‖₁·max|dy[oc]| for the data gradient, and, for the weights
// of (oc, ic), Σ_n ‖dy[n,oc]‖₁·max|x[n,ic]|. Each is at least the
// elementwise term sum, which stays the scale where it is larger.
func (c *convCase) winoScales() (ys, dxs, dws []float64) {
	p := c.p.normalized()
	out := p.Out()
	inSp, outSp := p.In[0]*p.In[1]*p.In[2], out[0]*out[1]*out[2]
	kv := p.kvol()
	l1 := func(s []float32) (n float64) {
		for _, v := range s {
			n += math.Abs(float64(v))
		}
		return n
	}
	inf := func(s []float32) (m float64) {
		for _, v := range s {
			m = math.Max(m, math.Abs(float64(v)))
		}
		return m
	}
	wl1 := func(oc, ic int) float64 { return l1(c.w[(oc*p.InC+ic)*kv : (oc*p.InC+ic+1)*kv]) }
	ys, dxs, dws = append([]float64(nil), c.ref.ys...), append([]float64(nil), c.ref.dxs...), append([]float64(nil), c.ref.dws...)
	for n := range p.N {
		for oc := range p.OutC {
			s := math.Abs(float64(c.bias[oc]))
			for ic := range p.InC {
				s += wl1(oc, ic) * inf(c.x[(n*p.InC+ic)*inSp:(n*p.InC+ic+1)*inSp])
			}
			for q := range outSp {
				i := (n*p.OutC+oc)*outSp + q
				ys[i] = math.Max(ys[i], s)
			}
		}
		for ic := range p.InC {
			s := 0.0
			for oc := range p.OutC {
				s += wl1(oc, ic) * inf(c.dy[(n*p.OutC+oc)*outSp:(n*p.OutC+oc+1)*outSp])
			}
			for q := range inSp {
				i := (n*p.InC+ic)*inSp + q
				dxs[i] = math.Max(dxs[i], s)
			}
		}
	}
	for oc := range p.OutC {
		for ic := range p.InC {
			s := 0.0
			for n := range p.N {
				s += l1(c.dy[(n*p.OutC+oc)*outSp:(n*p.OutC+oc+1)*outSp]) * inf(c.x[(n*p.InC+ic)*inSp:(n*p.InC+ic+1)*inSp])
			}
			for t := range kv {
				i := (oc*p.InC+ic)*kv + t
				dws[i] = math.Max(dws[i], s)
			}
		}
	}
	return ys, dxs, dws
}
