package register

import (
	"fmt"
	"math"
)

// Interp selects how an image is evaluated between voxel centres.
type Interp int

const (
	// Linear is trilinear interpolation (scipy order=1, ITK's
	// LinearInterpolateImageFunction); the zero value.
	Linear Interp = iota
	// Nearest takes the value of the nearest voxel: the choice for label
	// maps and masks.
	Nearest
	// BSpline3 is cubic B-spline interpolation with Unser's prefilter
	// (mirror boundaries), as scipy order=3 and ITK's BSplineInterpolateImageFunction:
	// smooth, sharper than linear, interpolating the voxel values exactly.
	BSpline3
)

// String returns "linear", "nearest" or "bspline3".
func (in Interp) String() string {
	switch in {
	case Linear:
		return "linear"
	case Nearest:
		return "nearest"
	case BSpline3:
		return "bspline3"
	}
	return fmt.Sprintf("Interp(%d)", int(in))
}

// grid3 is a float32 image (voxel values or B-spline coefficients) in
// NIfTI order, the common input of the interpolation kernels.
type grid3 struct {
	data       []float32
	nx, ny, nz int
	// hx, hy, hz are the largest valid continuous coordinates, n − 1.
	hx, hy, hz float64
}

func newGrid3(data []float32, dims [3]int) grid3 {
	return grid3{data: data, nx: dims[0], ny: dims[1], nz: dims[2],
		hx: float64(dims[0] - 1), hy: float64(dims[1] - 1), hz: float64(dims[2] - 1)}
}

// inside reports whether the continuous voxel coordinate lies in the
// image's domain [0, n−1]³ (scipy's mode="constant": no extrapolation).
func (g *grid3) inside(x, y, z float64) bool {
	return x >= 0 && y >= 0 && z >= 0 && x <= g.hx && y <= g.hy && z <= g.hz
}

// corner returns the base index and fractional offsets of a linear
// interpolation at (x, y, z) inside the domain, with the step to the
// next voxel along each axis (0 on the last voxel, where the weight is 0).
func (g *grid3) corner(x, y, z float64) (base, dx, dy, dz int, fx, fy, fz float64) {
	ix, iy, iz := int(x), int(y), int(z)
	fx, fy, fz = x-float64(ix), y-float64(iy), z-float64(iz)
	dx, dy, dz = 1, g.nx, g.nx*g.ny
	if ix >= g.nx-1 {
		ix, fx, dx = g.nx-1, 0, 0
	}
	if iy >= g.ny-1 {
		iy, fy, dy = g.ny-1, 0, 0
	}
	if iz >= g.nz-1 {
		iz, fz, dz = g.nz-1, 0, 0
	}
	return ix + g.nx*(iy+g.ny*iz), dx, dy, dz, fx, fy, fz
}

// linear returns the trilinear value at a point inside the domain.
func (g *grid3) linear(x, y, z float64) float64 {
	b, dx, dy, dz, fx, fy, fz := g.corner(x, y, z)
	d := g.data
	v000, v100 := float64(d[b]), float64(d[b+dx])
	v010, v110 := float64(d[b+dy]), float64(d[b+dy+dx])
	v001, v101 := float64(d[b+dz]), float64(d[b+dz+dx])
	v011, v111 := float64(d[b+dz+dy]), float64(d[b+dz+dy+dx])
	c00, c10 := v000+fx*(v100-v000), v010+fx*(v110-v010)
	c01, c11 := v001+fx*(v101-v001), v011+fx*(v111-v011)
	c0, c1 := c00+fy*(c10-c00), c01+fy*(c11-c01)
	return c0 + fz*(c1-c0)
}

// linearGrad returns the trilinear value and its exact derivative with
// respect to the voxel coordinates at a point inside the domain.
func (g *grid3) linearGrad(x, y, z float64) (v float64, gr [3]float64) {
	b, dx, dy, dz, fx, fy, fz := g.corner(x, y, z)
	d := g.data
	v000, v100 := float64(d[b]), float64(d[b+dx])
	v010, v110 := float64(d[b+dy]), float64(d[b+dy+dx])
	v001, v101 := float64(d[b+dz]), float64(d[b+dz+dx])
	v011, v111 := float64(d[b+dz+dy]), float64(d[b+dz+dy+dx])
	c00, c10 := v000+fx*(v100-v000), v010+fx*(v110-v010)
	c01, c11 := v001+fx*(v101-v001), v011+fx*(v111-v011)
	c0, c1 := c00+fy*(c10-c00), c01+fy*(c11-c01)
	v = c0 + fz*(c1-c0)
	gx0 := (v100 - v000) + fy*((v110-v010)-(v100-v000))
	gx1 := (v101 - v001) + fy*((v111-v011)-(v101-v001))
	gr[0] = gx0 + fz*(gx1-gx0)
	gr[1] = (c10 - c00) + fz*((c11-c01)-(c10-c00))
	gr[2] = c1 - c0
	return v, gr
}

// nearest returns the value of the voxel nearest to (x, y, z), and false
// when that voxel is outside the image.
func (g *grid3) nearest(x, y, z float64) (float64, bool) {
	ix, iy, iz := math.Floor(x+0.5), math.Floor(y+0.5), math.Floor(z+0.5)
	if ix < 0 || iy < 0 || iz < 0 || ix > g.hx || iy > g.hy || iz > g.hz {
		return 0, false
	}
	return float64(g.data[int(ix)+g.nx*(int(iy)+g.ny*int(iz))]), true
}
