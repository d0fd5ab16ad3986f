package register

import (
	"errors"
	"fmt"
	"math"

	"github.com/metasurv/metasurv/volume"
)

// Matrix is a 4×4 homogeneous transform of world space (RAS+ mm), stored
// row-major as volume.Affine is. A registration result is a Matrix that maps
// a point of the fixed image's world to the corresponding point of the
// moving image's world: y = M·(x, 1). The last row is always (0, 0, 0, 1).
type Matrix [4][4]float64

// ErrSingular reports a transform that cannot be inverted.
var ErrSingular = errors.New("register: singular matrix")

// IdentityMatrix returns the identity transform.
func IdentityMatrix() Matrix {
	return Matrix{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}
}

// Apply maps the world point p.
func (m Matrix) Apply(p [3]float64) [3]float64 {
	var q [3]float64
	for r := 0; r < 3; r++ {
		q[r] = m[r][0]*p[0] + m[r][1]*p[1] + m[r][2]*p[2] + m[r][3]
	}
	return q
}

// Mul returns m·b: the transform that applies b first and then m.
func (m Matrix) Mul(b Matrix) Matrix {
	var c Matrix
	for r := 0; r < 4; r++ {
		for k := 0; k < 4; k++ {
			var s float64
			for i := 0; i < 4; i++ {
				s += m[r][i] * b[i][k]
			}
			c[r][k] = s
		}
	}
	return c
}

// Compose returns the single matrix equivalent to applying ms in order:
// Compose(a, b, c) maps p to c(b(a(p))). Resampling through a chain of
// transforms composes them first so that the image is interpolated once.
func Compose(ms ...Matrix) Matrix {
	out := IdentityMatrix()
	for _, m := range ms {
		out = m.Mul(out)
	}
	return out
}

// Inverse returns the inverse transform, or ErrSingular when the linear
// part is (numerically) singular or the last row is not (0, 0, 0, 1).
func (m Matrix) Inverse() (Matrix, error) {
	if m[3] != [4]float64{0, 0, 0, 1} {
		return Matrix{}, fmt.Errorf("%w: last row %v, want [0 0 0 1]", ErrSingular, m[3])
	}
	a := m
	det := a[0][0]*(a[1][1]*a[2][2]-a[1][2]*a[2][1]) -
		a[0][1]*(a[1][0]*a[2][2]-a[1][2]*a[2][0]) +
		a[0][2]*(a[1][0]*a[2][1]-a[1][1]*a[2][0])
	scale := 0.0
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			scale = math.Max(scale, math.Abs(a[r][c]))
		}
	}
	if !(math.Abs(det) > 1e-12*scale*scale*scale) || math.IsInf(det, 0) {
		return Matrix{}, fmt.Errorf("%w: determinant %g", ErrSingular, det)
	}
	var inv Matrix
	inv[0][0] = (a[1][1]*a[2][2] - a[1][2]*a[2][1]) / det
	inv[0][1] = (a[0][2]*a[2][1] - a[0][1]*a[2][2]) / det
	inv[0][2] = (a[0][1]*a[1][2] - a[0][2]*a[1][1]) / det
	inv[1][0] = (a[1][2]*a[2][0] - a[1][0]*a[2][2]) / det
	inv[1][1] = (a[0][0]*a[2][2] - a[0][2]*a[2][0]) / det
	inv[1][2] = (a[0][2]*a[1][0] - a[0][0]*a[1][2]) / det
	inv[2][0] = (a[1][0]*a[2][1] - a[1][1]*a[2][0]) / det
	inv[2][1] = (a[0][1]*a[2][0] - a[0][0]*a[2][1]) / det
	inv[2][2] = (a[0][0]*a[1][1] - a[0][1]*a[1][0]) / det
	for r := 0; r < 3; r++ {
		inv[r][3] = -(inv[r][0]*a[0][3] + inv[r][1]*a[1][3] + inv[r][2]*a[2][3])
	}
	inv[3] = [4]float64{0, 0, 0, 1}
	return inv, nil
}

// FromAffine converts a voxel→world affine to a Matrix (same numbers).
func FromAffine(a volume.Affine) Matrix { return Matrix(a) }

// Affine converts m to a volume.Affine (same numbers).
func (m Matrix) Affine() volume.Affine { return volume.Affine(m) }

// lpsFlip converts between RAS and LPS: F·M·F with F = diag(−1, −1, 1, 1).
// The map is its own inverse.
func (m Matrix) lpsFlip() Matrix {
	s := [4]float64{-1, -1, 1, 1}
	var out Matrix
	for r := 0; r < 4; r++ {
		for c := 0; c < 4; c++ {
			out[r][c] = s[r] * m[r][c] * s[c]
		}
	}
	return out
}

// MaxDifference returns the largest absolute difference between the
// entries of m and b: a quick test of equality up to rounding.
func (m Matrix) MaxDifference(b Matrix) float64 {
	d := 0.0
	for r := 0; r < 4; r++ {
		for c := 0; c < 4; c++ {
			d = math.Max(d, math.Abs(m[r][c]-b[r][c]))
		}
	}
	return d
}
