package register

import (
	"fmt"
	"math"

	"github.com/metasurv/metasurv/volume"
)

// Grid is the geometry of an image without its values: the output grid of
// a resampling.
type Grid struct {
	Dims   [3]int
	Affine volume.Affine // voxel → world (RAS+ mm)
}

// GridOf returns the grid of v.
// A nil v gives the zero Grid, which Resample rejects.
func GridOf(v *volume.Volume) Grid {
	if v == nil {
		return Grid{}
	}
	return Grid{Dims: v.Dims, Affine: v.Affine}
}

// Resample evaluates moving on the grid onto through the world transform m,
// which maps a world point x of the output grid to the world point m·x of
// the moving image: out(v) = moving(m · onto.Affine · v). Points outside
// the moving image's domain (continuous voxel coordinates outside
// [0, n−1] on some axis, scipy's mode="constant") get the value outside.
// It is volume.ResampleInto with a Constant boundary: the library has one
// interpolation code path.
//
// To apply a chain of transforms with a single interpolation, compose the
// matrices first: Resample(mov, grid, volume.Compose(t1, t2), …) evaluates
// moving(t2(t1(x))). BSpline3 prefilters a copy of moving first.
func Resample(moving *volume.Volume, onto Grid, m volume.Affine, interp volume.Interp, outside float32) (*volume.Volume, error) {
	if err := checkVolume("moving", moving); err != nil {
		return nil, err
	}
	out, err := volume.New(onto.Dims, onto.Affine)
	if err != nil {
		return nil, fmt.Errorf("%w: output grid: %w", ErrInput, err)
	}
	// A singular grid or transform maps every output voxel onto a plane
	// or a point of the moving image: a constant output.
	if _, err := onto.Affine.Inverse(); err != nil {
		return nil, fmt.Errorf("%w: output grid: %w", ErrInput, err)
	}
	if err := checkMatrix(m); err != nil {
		return nil, err
	}
	if _, err := m.Inverse(); err != nil {
		return nil, fmt.Errorf("%w: transform: %w", ErrInput, err)
	}
	k, err := voxelMap(moving.Affine, m, onto.Affine)
	if err != nil {
		return nil, err
	}
	s := volume.Sampler{Interp: interp, Boundary: volume.Constant, Fill: outside}
	if err := volume.ResampleInto(out, moving, k, s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	return out, nil
}

// voxelMap returns the map from output voxel indices to moving voxel
// indices: movingAffine⁻¹ · m · ontoAffine.
func voxelMap(movingAffine, m, ontoAffine volume.Affine) (volume.Affine, error) {
	inv, err := movingAffine.Inverse()
	if err != nil {
		return volume.Affine{}, fmt.Errorf("%w: moving affine: %w", ErrInput, err)
	}
	if err := checkMatrix(m); err != nil {
		return volume.Affine{}, err
	}
	return inv.Mul(m).Mul(ontoAffine), nil
}

func checkMatrix(m volume.Affine) error {
	for r := 0; r < 4; r++ {
		for c := 0; c < 4; c++ {
			if math.IsNaN(m[r][c]) || math.IsInf(m[r][c], 0) {
				return fmt.Errorf("%w: transform entry [%d][%d] is %g", ErrInput, r, c, m[r][c])
			}
		}
	}
	if m[3] != [4]float64{0, 0, 0, 1} {
		return fmt.Errorf("%w: transform last row %v, want [0 0 0 1]", ErrInput, m[3])
	}
	return nil
}

func checkVolume(name string, v *volume.Volume) error {
	if v == nil {
		return fmt.Errorf("%w: %s image is nil", ErrInput, name)
	}
	n, err := volume.NumVoxels(v.Dims)
	if err != nil {
		return fmt.Errorf("%w: %s image: %w", ErrInput, name, err)
	}
	if len(v.Data) != n {
		return fmt.Errorf("%w: %s image has %d values for dims %v (want %d)", ErrInput, name, len(v.Data), v.Dims, n)
	}
	if _, err := v.Affine.Inverse(); err != nil {
		return fmt.Errorf("%w: %s image affine: %w", ErrInput, name, err)
	}
	return nil
}
