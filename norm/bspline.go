package norm

import "math"

// lattice is a uniform cubic B-spline control-point lattice over a 3-D
// image domain, the smooth-field model of N4. Along each axis the domain
// [0, n−1] (voxel indices of the full-resolution image) is split into mesh
// spans, which needs mesh+3 control points. phi is x fastest.
type lattice struct {
	mesh [3]int
	n    [3]int // full-resolution dims the domain spans
	phi  []float64
}

func newLattice(mesh, n [3]int) *lattice {
	l := &lattice{mesh: mesh, n: n}
	l.phi = make([]float64, (mesh[0]+3)*(mesh[1]+3)*(mesh[2]+3))
	return l
}

func (l *lattice) cp(a int) int { return l.mesh[a] + 3 }

// axisWeights holds, for each sample position along one axis, the first
// control point of its span and the four cubic B-spline weights.
type axisWeights struct {
	span []int
	w    [][4]float64
}

// weightsAt computes the span and weights of full-resolution coordinates
// coords along axis a.
func (l *lattice) weightsAt(a int, coords []float64) axisWeights {
	aw := axisWeights{span: make([]int, len(coords)), w: make([][4]float64, len(coords))}
	scale := 0.0
	if l.n[a] > 1 {
		scale = float64(l.mesh[a]) / float64(l.n[a]-1)
	}
	for i, c := range coords {
		u := c * scale
		k := int(math.Floor(u))
		if k >= l.mesh[a] { // the domain's last point belongs to the last span
			k = l.mesh[a] - 1
		}
		if k < 0 {
			k = 0
		}
		aw.span[i] = k
		aw.w[i] = cubicBSpline(u - float64(k))
	}
	return aw
}

// cubicBSpline returns the four uniform cubic B-spline basis values at t.
func cubicBSpline(t float64) [4]float64 {
	s := 1 - t
	t2, t3 := t*t, t*t*t
	return [4]float64{s * s * s / 6, (3*t3 - 6*t2 + 4) / 6, (-3*t3 + 3*t2 + 3*t + 1) / 6, t3 / 6}
}

// evaluate returns the field at the grid of positions wx × wy × wz (x
// fastest), contracting one axis at a time so that the cost is linear in
// the output size.
func (l *lattice) evaluate(wx, wy, wz axisWeights) []float64 {
	cx, cy, cz := l.cp(0), l.cp(1), l.cp(2)
	nx, ny, nz := len(wx.span), len(wy.span), len(wz.span)
	a := make([]float64, cz*cy*nx) // contract x
	for z := 0; z < cz; z++ {
		for y := 0; y < cy; y++ {
			row := l.phi[(z*cy+y)*cx:]
			dst := a[(z*cy+y)*nx:]
			for i := 0; i < nx; i++ {
				s, w := wx.span[i], &wx.w[i]
				dst[i] = w[0]*row[s] + w[1]*row[s+1] + w[2]*row[s+2] + w[3]*row[s+3]
			}
		}
	}
	b := make([]float64, cz*ny*nx) // contract y
	for z := 0; z < cz; z++ {
		for j := 0; j < ny; j++ {
			s, w := wy.span[j], &wy.w[j]
			dst := b[(z*ny+j)*nx:][:nx]
			for t := 0; t < 4; t++ {
				src := a[(z*cy+s+t)*nx:][:nx]
				for i := range dst {
					dst[i] += w[t] * src[i]
				}
			}
		}
	}
	out := make([]float64, nz*ny*nx) // contract z
	for k := 0; k < nz; k++ {
		s, w := wz.span[k], &wz.w[k]
		dst := out[k*ny*nx:][:ny*nx]
		for t := 0; t < 4; t++ {
			src := b[(s+t)*ny*nx:][:ny*nx]
			for i := range dst {
				dst[i] += w[t] * src[i]
			}
		}
	}
	return out
}

// fit sets phi to the single-level multilevel-B-spline approximation (Lee,
// Wolberg & Shin 1997) of the values r at the grid positions wx × wy × wz
// where use is true, as ITK's BSplineScatteredDataPointSetToImageFilter
// with one fitting level and unit confidence.
func (l *lattice) fit(wx, wy, wz axisWeights, r []float64, use []bool) {
	cx, cy := l.cp(0), l.cp(1)
	num := make([]float64, len(l.phi))
	den := make([]float64, len(l.phi))
	nx, ny := len(wx.span), len(wy.span)
	var w [64]float64
	for k := range wz.span {
		for j := range wy.span {
			for i := range wx.span {
				p := i + nx*(j+ny*k)
				if !use[p] {
					continue
				}
				var w2 float64
				for c := 0; c < 4; c++ {
					for b := 0; b < 4; b++ {
						for a := 0; a < 4; a++ {
							v := wz.w[k][c] * wy.w[j][b] * wx.w[i][a]
							w[(c*4+b)*4+a] = v
							w2 += v * v
						}
					}
				}
				if w2 == 0 {
					continue
				}
				rv := r[p] / w2
				for c := 0; c < 4; c++ {
					for b := 0; b < 4; b++ {
						base := ((wz.span[k]+c)*cy+wy.span[j]+b)*cx + wx.span[i]
						for a := 0; a < 4; a++ {
							v := w[(c*4+b)*4+a]
							num[base+a] += v * v * v * rv
							den[base+a] += v * v
						}
					}
				}
			}
		}
	}
	for i := range l.phi {
		if den[i] > 0 {
			l.phi[i] = num[i] / den[i]
		} else {
			l.phi[i] = 0
		}
	}
}

// add accumulates another lattice of the same mesh.
func (l *lattice) add(o *lattice) {
	for i := range l.phi {
		l.phi[i] += o.phi[i]
	}
}
