package volume

import (
	"fmt"
	"math"
)

// Affine maps voxel indices (i, j, k, 1) to world coordinates (x, y, z, 1)
// in RAS+ millimetres, as the NIfTI sform/qform and nibabel's img.affine do.
// It is stored row-major: Affine[r][c].
type Affine [4][4]float64

// Identity returns the identity affine (1 mm voxels, axes along R, A, S).
func Identity() Affine {
	return Affine{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}
}

// Apply maps the voxel coordinate v to world space.
func (a Affine) Apply(v [3]float64) [3]float64 {
	var w [3]float64
	for r := 0; r < 3; r++ {
		w[r] = a[r][0]*v[0] + a[r][1]*v[1] + a[r][2]*v[2] + a[r][3]
	}
	return w
}

// Mul returns the product a·b (apply b first, then a).
func (a Affine) Mul(b Affine) Affine {
	var c Affine
	for r := 0; r < 4; r++ {
		for k := 0; k < 4; k++ {
			var s float64
			for m := 0; m < 4; m++ {
				s += a[r][m] * b[m][k]
			}
			c[r][k] = s
		}
	}
	return c
}

// Zooms returns the voxel size along each array axis: the norms of the
// affine's first three columns (nibabel's voxel_sizes).
func (a Affine) Zooms() [3]float64 {
	var z [3]float64
	for c := 0; c < 3; c++ {
		z[c] = math.Sqrt(a[0][c]*a[0][c] + a[1][c]*a[1][c] + a[2][c]*a[2][c])
	}
	return z
}

// Volume is one 3-D image on a regular grid: the type every package of
// metasurv passes around. Data holds Dims[0]·Dims[1]·Dims[2] float32 values
// in NIfTI on-disk order, index = i + Nx·(j + Ny·k), so a file's voxels map
// onto it without reordering.
type Volume struct {
	Dims   [3]int    // Nx, Ny, Nz
	Affine Affine    // voxel → world (RAS+ mm)
	Data   []float32 // len = Nx·Ny·Nz, i fastest
}

// New returns a zero-filled volume of the given dimensions and affine.
// It returns an error for non-positive dimensions or ones whose product
// overflows.
func New(dims [3]int, affine Affine) (*Volume, error) {
	n, err := NumVoxels(dims)
	if err != nil {
		return nil, err
	}
	return &Volume{Dims: dims, Affine: affine, Data: make([]float32, n)}, nil
}

// FromData wraps data (not copied) as a volume, checking its length.
func FromData(dims [3]int, affine Affine, data []float32) (*Volume, error) {
	n, err := NumVoxels(dims)
	if err != nil {
		return nil, err
	}
	if len(data) != n {
		return nil, fmt.Errorf("%w: %d values for dims %v (want %d)", ErrShape, len(data), dims, n)
	}
	return &Volume{Dims: dims, Affine: affine, Data: data}, nil
}

// MaxVoxels bounds the voxel count of a grid (16 GiB of float32): far
// beyond any MRI, it turns a corrupt header or a mistyped target size or
// spacing into an error rather than an allocation the runtime cannot
// satisfy (a crash that no caller can recover from).
const MaxVoxels = 1 << 32

// NumVoxels returns Nx·Ny·Nz, or an error if a dimension is not positive or
// the product exceeds MaxVoxels or does not fit in an int.
func NumVoxels(dims [3]int) (int, error) {
	n := 1
	for _, d := range dims {
		if d <= 0 {
			return 0, fmt.Errorf("%w: non-positive dimension in %v", ErrShape, dims)
		}
		if n > math.MaxInt/d || int64(n)*int64(d) > MaxVoxels {
			return 0, fmt.Errorf("%w: dimensions %v exceed %d voxels", ErrShape, dims, int64(MaxVoxels))
		}
		n *= d
	}
	return n, nil
}

// Index returns the position of voxel (i, j, k) in Data.
func (v *Volume) Index(i, j, k int) int { return i + v.Dims[0]*(j+v.Dims[1]*k) }

// At returns the value of voxel (i, j, k).
func (v *Volume) At(i, j, k int) float32 { return v.Data[v.Index(i, j, k)] }

// Set stores x at voxel (i, j, k).
func (v *Volume) Set(i, j, k int, x float32) { v.Data[v.Index(i, j, k)] = x }

// Spacing returns the voxel size in mm along each array axis.
func (v *Volume) Spacing() [3]float64 { return v.Affine.Zooms() }

// Clone returns a deep copy of v (nil for a nil v).
func (v *Volume) Clone() *Volume {
	if v == nil {
		return nil
	}
	c := *v
	c.Data = append([]float32(nil), v.Data...)
	return &c
}

// checkDistinct rejects a destination whose data starts where the
// source's does (dst == src, the usual way to alias them): those
// operations read source voxels after writing destination ones.
func checkDistinct(dst, src *Volume) error {
	if &dst.Data[0] == &src.Data[0] {
		return fmt.Errorf("%w: destination and source share their data", ErrShape)
	}
	return nil
}
