package volume

import (
	"fmt"
	"math"
)

// Translation returns the affine that adds t to a coordinate.
func Translation(t [3]float64) Affine {
	a := Identity()
	a[0][3], a[1][3], a[2][3] = t[0], t[1], t[2]
	return a
}

// Scaling returns the affine that multiplies coordinate r by s[r].
func Scaling(s [3]float64) Affine {
	a := Identity()
	a[0][0], a[1][1], a[2][2] = s[0], s[1], s[2]
	return a
}

// Inverse returns the inverse of a, which must be an affine transform (last
// row 0 0 0 1) with an invertible 3×3 part, by the cofactor formula in
// float64 (the arithmetic registration was validated with). A singular
// matrix (|det| ≤ 1e−12·max|aᵢⱼ|³), one with a NaN or infinite entry (the
// translation included) or one whose inverse overflows is an error
// wrapping ErrSingular.
func (a Affine) Inverse() (Affine, error) {
	if a[3] != [4]float64{0, 0, 0, 1} {
		return Affine{}, fmt.Errorf("%w: affine %v has last row %v, want [0 0 0 1]", ErrSingular, a, a[3])
	}
	if !a.IsFinite() {
		return Affine{}, fmt.Errorf("%w: affine %v has non-finite entries", ErrSingular, a)
	}
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
		return Affine{}, fmt.Errorf("%w: affine %v has determinant %g", ErrSingular, a, det)
	}
	var inv Affine
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
	if !inv.IsFinite() {
		return Affine{}, fmt.Errorf("%w: the inverse of affine %v overflows", ErrSingular, a)
	}
	return inv, nil
}

// IsFinite reports whether every entry of a is finite.
func (a Affine) IsFinite() bool {
	for _, row := range a {
		for _, x := range row {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
		}
	}
	return true
}

// Compose returns the single affine equivalent to applying as in order:
// Compose(a, b, c) maps p to c(b(a(p))), that is c·b·a. Resampling through
// a chain of transforms composes them first so that the image is
// interpolated once.
func Compose(as ...Affine) Affine {
	out := Identity()
	for _, a := range as {
		out = a.Mul(out)
	}
	return out
}

// MaxDifference returns the largest absolute difference between the
// entries of a and b: a quick test of equality up to rounding.
func (a Affine) MaxDifference(b Affine) float64 {
	d := 0.0
	for r := range a {
		for c := range a[r] {
			d = math.Max(d, math.Abs(a[r][c]-b[r][c]))
		}
	}
	return d
}
