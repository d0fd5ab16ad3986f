package register

import (
	"errors"
	"fmt"
	"math"

	"github.com/metasurv/metasurv/internal/parallel"
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

// ErrInput reports an image, grid or transform that cannot be used.
var ErrInput = errors.New("register: invalid input")

// Resample evaluates moving on the grid onto through the world transform m,
// which maps a world point x of the output grid to the world point m·x of
// the moving image: out(v) = moving(m · onto.Affine · v). Points outside
// the moving image's domain (continuous voxel coordinates outside
// [0, n−1] on some axis, scipy's mode="constant") get the value outside.
//
// To apply a chain of transforms with a single interpolation, compose the
// matrices first: Resample(mov, grid, Compose(t1, t2), …) evaluates
// moving(t2(t1(x))). Work is split over output slices; each row is walked
// incrementally, with no allocation per voxel. BSpline3 prefilters a copy
// of moving first.
func Resample(moving *volume.Volume, onto Grid, m Matrix, interp Interp, outside float32) (*volume.Volume, error) {
	if err := checkVolume("moving", moving); err != nil {
		return nil, err
	}
	out, err := volume.New(onto.Dims, onto.Affine)
	if err != nil {
		return nil, fmt.Errorf("register: output grid: %w", err)
	}
	k, err := voxelMap(moving.Affine, m, onto.Affine)
	if err != nil {
		return nil, err
	}
	src := moving.Data
	switch interp {
	case Linear, Nearest:
	case BSpline3:
		src = bsplinePrefilter(moving.Data, moving.Dims)
	default:
		return nil, fmt.Errorf("%w: unknown interpolation %d", ErrInput, int(interp))
	}
	g := newGrid3(src, moving.Dims)
	nx, ny, nz := onto.Dims[0], onto.Dims[1], onto.Dims[2]
	parallel.ForChunks(ny*nz, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			j, kk := r%ny, r/ny
			resampleRow(&g, k, j, kk, out.Data[r*nx:(r+1)*nx], interp, outside)
		}
	})
	return out, nil
}

// resampleRow fills one output row (j, k), stepping the moving voxel
// coordinate by the first column of the voxel-to-voxel map.
func resampleRow(g *grid3, k Matrix, j, kk int, row []float32, interp Interp, outside float32) {
	fj, fk := float64(j), float64(kk)
	x0 := k[0][1]*fj + k[0][2]*fk + k[0][3]
	y0 := k[1][1]*fj + k[1][2]*fk + k[1][3]
	z0 := k[2][1]*fj + k[2][2]*fk + k[2][3]
	sx, sy, sz := k[0][0], k[1][0], k[2][0]
	switch interp {
	case Nearest:
		for i := range row {
			fi := float64(i)
			v, ok := g.nearest(x0+fi*sx, y0+fi*sy, z0+fi*sz)
			row[i] = outside
			if ok {
				row[i] = float32(v)
			}
		}
	case Linear:
		for i := range row {
			fi := float64(i)
			x, y, z := x0+fi*sx, y0+fi*sy, z0+fi*sz
			row[i] = outside
			if g.inside(x, y, z) {
				row[i] = float32(g.linear(x, y, z))
			}
		}
	default:
		for i := range row {
			fi := float64(i)
			x, y, z := x0+fi*sx, y0+fi*sy, z0+fi*sz
			row[i] = outside
			if g.inside(x, y, z) {
				row[i] = float32(g.bspline(x, y, z))
			}
		}
	}
}

// voxelMap returns the map from output voxel indices to moving voxel
// indices: movingAffine⁻¹ · m · ontoAffine.
func voxelMap(movingAffine volume.Affine, m Matrix, ontoAffine volume.Affine) (Matrix, error) {
	inv, err := Matrix(movingAffine).Inverse()
	if err != nil {
		return Matrix{}, fmt.Errorf("%w: moving affine: %w", ErrInput, err)
	}
	if err := checkMatrix(m); err != nil {
		return Matrix{}, err
	}
	return inv.Mul(m).Mul(Matrix(ontoAffine)), nil
}

func checkMatrix(m Matrix) error {
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
	if _, err := Matrix(v.Affine).Inverse(); err != nil {
		return fmt.Errorf("%w: %s image affine: %w", ErrInput, name, err)
	}
	return nil
}
