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
func (g grid) insidePoint(x, y, z float64) bool {
	return inside(x, g.nx) && inside(y, g.ny) && inside(z, g.nz)
}

// linear returns the trilinear value at a point inside the grid.
func (g grid) linear(x, y, z float64) float64 {
	var out [1]float64
	linearRow(g, out[:], nil, 0, [3]float64{x, y, z}, [3]float64{}, false)
	return out[0]
}

// linearGrad returns the trilinear value and its exact derivative with
// respect to the voxel coordinates at a point inside the grid.
func (g grid) linearGrad(x, y, z float64) (float64, [3]float64) {
	var out [1]float64
	var gr [1][3]float64
	linearRow(g, out[:], gr[:], 0, [3]float64{x, y, z}, [3]float64{}, false)
	return out[0], gr[0]
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
	switch f.interp {
	case BSpline3:
		return f.g.bspline(x, y, z)
	case Nearest:
		return float64(f.g.nearestIn(x, y, z))
	}
	return f.g.linear(x, y, z)
}

// Gradient returns the interpolated value at a point inside the domain
// and its derivative with respect to the voxel coordinates (zero for
// Nearest, which is piecewise constant).
func (f *Field) Gradient(x, y, z float64) (float64, [3]float64) {
	switch f.interp {
	case BSpline3:
		return f.g.bsplineGrad(x, y, z)
	case Nearest:
		return float64(f.g.nearestIn(x, y, z)), [3]float64{}
	}
	return f.g.linearGrad(x, y, z)
}

// nearestIn returns the voxel nearest to a point known to lie inside the
// grid, ties to even.
func (g grid) nearestIn(x, y, z float64) float32 {
	i, j, k := int(math.RoundToEven(x)), int(math.RoundToEven(y)), int(math.RoundToEven(z))
	return g.data[i+g.nx*(j+g.ny*k)]
}
