package volume

import (
	"fmt"
	"math"

	"github.com/metasurv/metasurv/internal/enumtext"
)

// Interp selects how a value between voxel centres is computed. It is the
// one interpolation vocabulary of the library: resampling (Sampler,
// Resample, ResampleToSpacing) and registration metrics (Field) use it.
type Interp int

const (
	// Linear is trilinear interpolation of the 8 surrounding voxels, the
	// default of MONAI Spacing ("bilinear"), scipy's order=1 and ITK's
	// LinearInterpolateImageFunction; the zero value.
	Linear Interp = iota
	// Nearest takes the voxel whose centre is nearest, ties rounded to
	// even as torch grid_sample's "nearest" does. Use it for label maps.
	Nearest
	// BSpline3 is cubic B-spline interpolation with Unser's prefilter
	// (mirror boundaries), as scipy's order=3 and ITK's
	// BSplineInterpolateImageFunction: smooth, sharper than linear, and
	// interpolating the voxel values exactly.
	BSpline3
)

var interpNames = []string{Linear: "linear", Nearest: "nearest", BSpline3: "bspline3"}

// String returns "linear", "nearest" or "bspline3".
func (m Interp) String() string { return enumtext.String(int(m), interpNames, "Interp") }

// MarshalText returns the name String gives; an unknown value is an error.
func (m Interp) MarshalText() ([]byte, error) {
	return enumtext.Marshal(int(m), interpNames, "interpolation", ErrInvalid)
}

// UnmarshalText parses "linear", "nearest" or "bspline3" (any case).
func (m *Interp) UnmarshalText(b []byte) error {
	return enumtext.Set(m, b, interpNames, "interpolation", ErrInvalid)
}

// grid is the view of a volume's data (or of its B-spline coefficients)
// that the interpolation kernels read, in NIfTI order.
type grid struct {
	data       []float32
	nx, ny, nz int
}

func gridOf(data []float32, dims [3]int) grid {
	return grid{data: data, nx: dims[0], ny: dims[1], nz: dims[2]}
}

// insidePoint reports whether the continuous voxel coordinate lies in the
// domain [0, n−1]³ (scipy's mode="constant": no extrapolation).
func (g *grid) insidePoint(x, y, z float64) bool {
	return inside(x, g.nx) && inside(y, g.ny) && inside(z, g.nz)
}

// linear returns the trilinear value at a point inside the grid.
func (g *grid) linear(x, y, z float64) float64 {
	v, _ := g.trilinear(x, y, z, false)
	return v
}

// trilinear is the point kernel of trilinear interpolation: the value at
// a point inside the grid (coordinates ≥ −edgeTol, so int() is floor up to
// a weight of ~1e−16) and, with grad, its derivative. It is what a
// registration metric calls at every sample point; linearRow is the same
// arithmetic specialised for the rows of a resampling (no gradient,
// float32 output, no call per voxel), and the two must give equal values
// (TestFieldMatchesSampler). The upper neighbour of a point on the last
// voxel is the voxel itself, with weight 0, so no read goes past the data.
func (g *grid) trilinear(x, y, z float64, grad bool) (v float64, gr [3]float64) {
	ix, iy, iz := int(x), int(y), int(z)
	fx, fy, fz := x-float64(ix), y-float64(iy), z-float64(iz)
	sx, sy, sz := 1, g.nx, g.nx*g.ny
	if ix >= g.nx-1 {
		sx = 0
	}
	if iy >= g.ny-1 {
		sy = 0
	}
	if iz >= g.nz-1 {
		sz = 0
	}
	q := ix + g.nx*(iy+g.ny*iz)
	c := g.data[q : q+sx+sy+sz+1 : q+sx+sy+sz+1]
	v000, v100, v010, v110 := float64(c[0]), float64(c[sx]), float64(c[sy]), float64(c[sy+sx])
	v001, v101, v011, v111 := float64(c[sz]), float64(c[sz+sx]), float64(c[sz+sy]), float64(c[sz+sy+sx])
	c00, c10, c01, c11 := v000+fx*(v100-v000), v010+fx*(v110-v010), v001+fx*(v101-v001), v011+fx*(v111-v011)
	c0, c1 := c00+fy*(c10-c00), c01+fy*(c11-c01)
	v = c0 + fz*(c1-c0)
	if grad {
		gx0 := (v100 - v000) + fy*((v110-v010)-(v100-v000))
		gx1 := (v101 - v001) + fy*((v111-v011)-(v101-v001))
		gr = [3]float64{gx0 + fz*(gx1-gx0), (c10 - c00) + fz*((c11-c01)-(c10-c00)), c1 - c0}
	}
	return v, gr
}

// Field is a volume prepared for evaluation at arbitrary continuous voxel
// coordinates (x along i, y along j, z along k; integers are voxel
// centres), with derivatives: what a registration metric samples at every
// iteration. For BSpline3 it holds the prefiltered coefficients, computed
// once by NewField. A Field is read-only and safe for concurrent use; it
// shares the volume's data for Linear and Nearest, so the volume must not
// change while the Field is in use.
type Field struct {
	g      grid
	interp Interp
}

// NewField prepares v for evaluation with interp.
func NewField(v *Volume, interp Interp) (*Field, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	f := &Field{g: gridOf(v.Data, v.Dims), interp: interp}
	switch interp {
	case Linear, Nearest:
	case BSpline3:
		f.g.data = bsplinePrefilter(v.Data, v.Dims)
	default:
		return nil, fmt.Errorf("%w: unknown interpolation %v", ErrInvalid, interp)
	}
	return f, nil
}

// Interp returns the interpolation f evaluates with.
func (f *Field) Interp() Interp { return f.interp }

// Inside reports whether (x, y, z) lies in the domain [0, n−1] along every
// axis (false for NaN): At and Gradient are defined there only.
func (f *Field) Inside(x, y, z float64) bool { return f.g.insidePoint(x, y, z) }

// At returns the interpolated value at a point inside the domain (see
// Inside; outside it the result is unspecified and may panic).
func (f *Field) At(x, y, z float64) float64 {
	if f.interp == Linear { // the common case, inlined into the caller
		v, _ := f.g.trilinear(x, y, z, false)
		return v
	}
	v, _ := f.other(x, y, z, false)
	return v
}

// Gradient returns the interpolated value at a point inside the domain
// and its derivative with respect to the voxel coordinates (zero for
// Nearest, which is piecewise constant).
func (f *Field) Gradient(x, y, z float64) (float64, [3]float64) {
	if f.interp == Linear {
		return f.g.trilinear(x, y, z, true)
	}
	return f.other(x, y, z, true)
}

// Sample evaluates f at the points m·p, p in pts (m maps them into f's
// voxel coordinates, e.g. a world→voxel affine): val[i] is the value at
// m·pts[i], grad[i] (when grad is not nil) its derivative with respect to
// the voxel coordinates, and ok[i] reports whether the point lies inside
// the domain and the value (and gradient) is finite — NaN voxels make a
// point unusable rather than poisoning a sum. Points with ok[i] false
// leave val[i] and grad[i] unspecified. val, ok (and grad) must be as long
// as pts. It is the inner loop of a registration metric: one call per
// batch of points, the interpolation chosen once.
func (f *Field) Sample(m *Affine, pts [][3]float64, val []float64, grad [][3]float64, ok []bool) {
	val, ok = val[:len(pts)], ok[:len(pts)]
	if grad != nil {
		grad = grad[:len(pts)]
	}
	g := &f.g
	for i := range pts {
		p := &pts[i]
		x := m[0][0]*p[0] + m[0][1]*p[1] + m[0][2]*p[2] + m[0][3]
		y := m[1][0]*p[0] + m[1][1]*p[1] + m[1][2]*p[2] + m[1][3]
		z := m[2][0]*p[0] + m[2][1]*p[1] + m[2][2]*p[2] + m[2][3]
		if !g.insidePoint(x, y, z) {
			ok[i] = false
			continue
		}
		var v float64
		var d [3]float64
		switch {
		case f.interp == Linear:
			v, d = g.trilinear(x, y, z, grad != nil)
		case f.interp == Nearest:
			v = float64(g.nearestIn(x, y, z))
		case grad != nil:
			v, d = g.bsplineGrad(x, y, z)
		default:
			v = g.bspline(x, y, z)
		}
		val[i] = v
		good := !math.IsNaN(v) && !math.IsInf(v, 0)
		if grad != nil {
			grad[i] = d
			good = good && !math.IsNaN(d[0]+d[1]+d[2])
		}
		ok[i] = good
	}
}

// other evaluates the interpolations other than Linear.
func (f *Field) other(x, y, z float64, grad bool) (float64, [3]float64) {
	switch {
	case f.interp == Nearest:
		return float64(f.g.nearestIn(x, y, z)), [3]float64{}
	case grad:
		return f.g.bsplineGrad(x, y, z)
	}
	return f.g.bspline(x, y, z), [3]float64{}
}

// nearestIn returns the voxel nearest to a point known to lie inside the
// grid, ties to even.
func (g *grid) nearestIn(x, y, z float64) float32 {
	i, j, k := int(math.RoundToEven(x)), int(math.RoundToEven(y)), int(math.RoundToEven(z))
	return g.data[i+g.nx*(j+g.ny*k)]
}
