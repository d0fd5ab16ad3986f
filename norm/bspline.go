package norm

import (
	"math"

	"github.com/metasurv/metasurv/internal/parallel"
)

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
// fastest).
func (l *lattice) evaluate(wx, wy, wz axisWeights) []float64 {
	out := make([]float64, len(wx.span)*len(wy.span)*len(wz.span))
	addField(l, wx, wy, wz, out)
	return out
}

// addField adds the field at the grid of positions wx × wy × wz (x
// fastest) to dst, contracting one axis at a time so that the cost is
// linear in the output size and only the first two stages need scratch.
func addField[T float32 | float64](l *lattice, wx, wy, wz axisWeights, dst []T) {
	cx, cy, cz := l.cp(0), l.cp(1), l.cp(2)
	nx, ny := len(wx.span), len(wy.span)
	a := make([]float64, cz*cy*nx) // contract x
	for z := 0; z < cz; z++ {
		for y := 0; y < cy; y++ {
			row := l.phi[(z*cy+y)*cx:]
			out := a[(z*cy+y)*nx:]
			for i := 0; i < nx; i++ {
				s, w := wx.span[i], &wx.w[i]
				out[i] = w[0]*row[s] + w[1]*row[s+1] + w[2]*row[s+2] + w[3]*row[s+3]
			}
		}
	}
	b := make([]float64, cz*ny*nx) // contract y
	for z := 0; z < cz; z++ {
		for j := 0; j < ny; j++ {
			s, w := wy.span[j], &wy.w[j]
			out := b[(z*ny+j)*nx:][:nx]
			for t := 0; t < 4; t++ {
				src := a[(z*cy+s+t)*nx:][:nx]
				for i := range out {
					out[i] += w[t] * src[i]
				}
			}
		}
	}
	plane := ny * nx // contract z, slices in parallel
	parallel.For(len(wz.span), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			s, w := wz.span[k], &wz.w[k]
			out := dst[k*plane:][:plane]
			b0, b1, b2, b3 := b[s*plane:][:plane], b[(s+1)*plane:][:plane], b[(s+2)*plane:][:plane], b[(s+3)*plane:][:plane]
			for i := range out {
				out[i] += T(w[0]*b0[i] + w[1]*b1[i] + w[2]*b2[i] + w[3]*b3[i])
			}
		}
	})
}

// fit sets phi to the single-level multilevel-B-spline approximation (Lee,
// Wolberg & Shin 1997) of the values r at the grid positions wx × wy × wz
// where use is true, as ITK's BSplineScatteredDataPointSetToImageFilter
// with one fitting level and unit confidence: each point proposes
// φ = w·r/Σw² to its 4×4×4 control points, which average the proposals
// weighted by w². The tensor-product weights factor per axis, so the
// squares and cubes are formed per axis. Slabs of z run in parallel with
// private accumulators, reduced in a fixed order (deterministic).
func (l *lattice) fit(wx, wy, wz axisWeights, r []float64, use []bool) {
	nslab := min(parallel.Workers(), len(wz.span))
	num := make([][]float64, nslab)
	den := make([][]float64, nslab)
	per := (len(wz.span) + nslab - 1) / nslab
	parallel.For(nslab, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			num[s] = make([]float64, len(l.phi))
			den[s] = make([]float64, len(l.phi))
			l.fitSlab(wx, wy, wz, r, use, s*per, min((s+1)*per, len(wz.span)), num[s], den[s])
		}
	})
	for i := range l.phi {
		var n, d float64
		for s := range num {
			n += num[s][i]
			d += den[s][i]
		}
		l.phi[i] = 0
		if d > 0 {
			l.phi[i] = n / d
		}
	}
}

func (l *lattice) fitSlab(wx, wy, wz axisWeights, r []float64, use []bool, k0, k1 int, num, den []float64) {
	cx, cy := l.cp(0), l.cp(1)
	nx, ny := len(wx.span), len(wy.span)
	x2, x3 := powers(wx)
	y2, y3 := powers(wy)
	z2, z3 := powers(wz)
	for k := k0; k < k1; k++ {
		for j := 0; j < ny; j++ {
			for i := 0; i < nx; i++ {
				p := i + nx*(j+ny*k)
				if !use[p] {
					continue
				}
				w2 := (x2[i][0] + x2[i][1] + x2[i][2] + x2[i][3]) *
					(y2[j][0] + y2[j][1] + y2[j][2] + y2[j][3]) *
					(z2[k][0] + z2[k][1] + z2[k][2] + z2[k][3])
				rv := r[p] / w2
				for c := 0; c < 4; c++ {
					for b := 0; b < 4; b++ {
						n3, d2 := rv*z3[k][c]*y3[j][b], z2[k][c]*y2[j][b]
						base := ((wz.span[k]+c)*cy+wy.span[j]+b)*cx + wx.span[i]
						for a := 0; a < 4; a++ {
							num[base+a] += n3 * x3[i][a]
							den[base+a] += d2 * x2[i][a]
						}
					}
				}
			}
		}
	}
}

// powers returns the squares and cubes of the weights.
func powers(aw axisWeights) (sq, cu [][4]float64) {
	sq = make([][4]float64, len(aw.w))
	cu = make([][4]float64, len(aw.w))
	for i, w := range aw.w {
		for a := range w {
			sq[i][a] = w[a] * w[a]
			cu[i][a] = sq[i][a] * w[a]
		}
	}
	return sq, cu
}

// add accumulates another lattice of the same mesh.
func (l *lattice) add(o *lattice) {
	for i := range l.phi {
		l.phi[i] += o.phi[i]
	}
}
