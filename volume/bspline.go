package volume

import (
	"math"

	"github.com/metasurv/metasurv/internal/bspline"
	"github.com/metasurv/metasurv/internal/parallel"
)

// Cubic B-spline interpolation after Unser, Aldroubi and Eden, "B-spline
// signal processing" (IEEE TSP 1993) and Thévenaz, Blu and Unser,
// "Interpolation revisited" (IEEE TMI 2000): the samples are first turned
// into B-spline coefficients by a causal and an anti-causal recursive
// filter with pole z = √3 − 2 (mirror-symmetric boundaries), so that the
// spline through the coefficients interpolates the samples exactly.

var bsPole = math.Sqrt(3) - 2

// bsplinePrefilter returns the cubic B-spline coefficients of data (dims
// in NIfTI order). data is not modified.
func bsplinePrefilter(data []float32, dims [3]int) []float32 {
	c := append([]float32(nil), data...)
	nx, ny, nz := dims[0], dims[1], dims[2]
	// x: lines are contiguous; one line per (j, k).
	parallel.For(ny*nz, func(lo, hi int) {
		buf := make([]float64, nx)
		for l := lo; l < hi; l++ {
			line := c[l*nx : (l+1)*nx]
			for i, v := range line {
				buf[i] = float64(v)
			}
			filterLine(buf)
			for i, v := range buf {
				line[i] = float32(v)
			}
		}
	})
	// y: within each slice k, rows of nx values, ny rows, stride nx.
	parallel.For(nz, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			filterRows(c[k*nx*ny:(k+1)*nx*ny], nx, ny, nx)
		}
	})
	// z: for each j, rows of nx values, nz rows, stride nx·ny.
	parallel.For(ny, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			filterRows(c[j*nx:], nx, nz, nx*ny)
		}
	})
	return c
}

// horizon returns how many terms of the causal initialisation sum are
// needed for float32 accuracy.
func horizon(n int) int {
	h := int(math.Ceil(math.Log(1e-9) / math.Log(math.Abs(bsPole))))
	return min(h, n)
}

// filterLine turns the samples of one line into B-spline coefficients in
// place.
func filterLine(s []float64) {
	n := len(s)
	if n < 2 {
		return
	}
	z := bsPole
	for i := range s {
		s[i] *= 6 // (1 − z)(1 − 1/z)
	}
	s[0] = causalInit(n, func(k int) float64 { return s[k] })
	for k := 1; k < n; k++ {
		s[k] += z * s[k-1]
	}
	s[n-1] = z / (z*z - 1) * (s[n-1] + z*s[n-2])
	for k := n - 2; k >= 0; k-- {
		s[k] = z * (s[k+1] - s[k])
	}
}

// causalInit returns c⁺(0) for mirror-symmetric boundaries: a truncated
// sum when the line is long, the exact closed form otherwise.
func causalInit(n int, at func(int) float64) float64 {
	z := bsPole
	h := horizon(n)
	if h < n {
		sum, zk := 0.0, 1.0
		for k := 0; k < h; k++ {
			sum += zk * at(k)
			zk *= z
		}
		return sum
	}
	zn, iz := z, 1/z
	z2n := math.Pow(z, float64(n-1))
	sum := at(0) + z2n*at(n-1)
	z2n *= z2n * iz
	for k := 1; k < n-1; k++ {
		sum += (zn + z2n) * at(k)
		zn *= z
		z2n *= iz
	}
	return sum / (1 - zn*zn)
}

// filterRows filters along an axis whose samples are rows of w contiguous
// values, n rows apart by stride: all w lines advance together, which keeps
// the memory access sequential.
func filterRows(c []float32, w, n, stride int) {
	if n < 2 {
		return
	}
	z := float32(bsPole)
	row := func(r int) []float32 { return c[r*stride : r*stride+w] }
	init := make([]float64, w)
	for x := 0; x < w; x++ {
		init[x] = 6 * causalInit(n, func(k int) float64 { return float64(c[k*stride+x]) })
	}
	r0 := row(0)
	for x := range r0 {
		r0[x] = float32(init[x])
	}
	for r := 1; r < n; r++ {
		cur, prev := row(r), row(r-1)
		for x := range cur {
			cur[x] = 6*cur[x] + z*prev[x]
		}
	}
	last, prev := row(n-1), row(n-2)
	g := z / (z*z - 1)
	for x := range last {
		last[x] = g * (last[x] + z*prev[x])
	}
	for r := n - 2; r >= 0; r-- {
		cur, next := row(r), row(r+1)
		for x := range cur {
			cur[x] = z * (next[x] - cur[x])
		}
	}
}

// mirror maps an index outside [0, n−1] back inside by reflection about
// the end samples (whole-sample symmetry, as the prefilter assumes).
func mirror(k, n int) int {
	if n == 1 {
		return 0
	}
	p := 2 * (n - 1)
	k %= p
	if k < 0 {
		k += p
	}
	if k >= n {
		k = p - k
	}
	return k
}

// bsIndex fills idx with the (mirrored) indices of the four coefficients
// that support the point x and returns the fractional offset.
func bsIndex(x float64, n int, stride int, idx *[4]int) float64 {
	f := math.Floor(x)
	i := int(f) - 1
	for a := 0; a < 4; a++ {
		k := i + a
		if k < 0 || k >= n {
			k = mirror(k, n)
		}
		idx[a] = k * stride
	}
	return x - f
}

// bspline returns the cubic B-spline value at a point inside the domain of
// the coefficient image g.
func (g *grid) bspline(x, y, z float64) float64 {
	fx, fy, fz := math.Floor(x), math.Floor(y), math.Floor(z)
	i, j, k := int(fx)-1, int(fy)-1, int(fz)-1
	if i >= 0 && j >= 0 && k >= 0 && i+3 < g.nx && j+3 < g.ny && k+3 < g.nz {
		return g.bsplineInterior(i+g.nx*(j+g.ny*k), x-fx, y-fy, z-fz)
	}
	var ix, iy, iz [4]int
	wx := bspline.Weights(bsIndex(x, g.nx, 1, &ix))
	wy := bspline.Weights(bsIndex(y, g.ny, g.nx, &iy))
	wz := bspline.Weights(bsIndex(z, g.nz, g.nx*g.ny, &iz))
	d := g.data
	var v float64
	for c := 0; c < 4; c++ {
		var sy float64
		for b := 0; b < 4; b++ {
			o := iz[c] + iy[b]
			sx := wx[0]*float64(d[o+ix[0]]) + wx[1]*float64(d[o+ix[1]]) +
				wx[2]*float64(d[o+ix[2]]) + wx[3]*float64(d[o+ix[3]])
			sy += wy[b] * sx
		}
		v += wz[c] * sy
	}
	return v
}

// bsplineInterior evaluates the spline when all 4×4×4 coefficients lie
// inside the image (no mirroring): base is the index of the first one.
func (g *grid) bsplineInterior(base int, tx, ty, tz float64) float64 {
	wx, wy, wz := bspline.Weights(tx), bspline.Weights(ty), bspline.Weights(tz)
	nx, nxy := g.nx, g.nx*g.ny
	d := g.data[base : base+3*nxy+3*nx+4]
	var v float64
	for c := 0; c < 4; c++ {
		var sy float64
		for b := 0; b < 4; b++ {
			r := d[c*nxy+b*nx:][:4]
			sx := wx[0]*float64(r[0]) + wx[1]*float64(r[1]) + wx[2]*float64(r[2]) + wx[3]*float64(r[3])
			sy += wy[b] * sx
		}
		v += wz[c] * sy
	}
	return v
}

// bsplineGrad returns the cubic B-spline value and its derivative with
// respect to the voxel coordinates.
func (g *grid) bsplineGrad(x, y, z float64) (float64, [3]float64) {
	var ix, iy, iz [4]int
	tx := bsIndex(x, g.nx, 1, &ix)
	ty := bsIndex(y, g.ny, g.nx, &iy)
	tz := bsIndex(z, g.nz, g.nx*g.ny, &iz)
	wx, wy, wz := bspline.Weights(tx), bspline.Weights(ty), bspline.Weights(tz)
	dx, dy, dz := bspline.Derivs(tx), bspline.Derivs(ty), bspline.Derivs(tz)
	d := g.data
	var v, gx, gy, gz float64
	for c := 0; c < 4; c++ {
		var sv, sgx, sgy float64
		for b := 0; b < 4; b++ {
			o := iz[c] + iy[b]
			p0, p1 := float64(d[o+ix[0]]), float64(d[o+ix[1]])
			p2, p3 := float64(d[o+ix[2]]), float64(d[o+ix[3]])
			s := wx[0]*p0 + wx[1]*p1 + wx[2]*p2 + wx[3]*p3
			sd := dx[0]*p0 + dx[1]*p1 + dx[2]*p2 + dx[3]*p3
			sv += wy[b] * s
			sgx += wy[b] * sd
			sgy += dy[b] * s
		}
		v += wz[c] * sv
		gx += wz[c] * sgx
		gy += wz[c] * sgy
		gz += dz[c] * sv
	}
	return v, [3]float64{gx, gy, gz}
}
