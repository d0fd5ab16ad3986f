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
// row 0 0 0 1) with an invertible 3×3 part. It solves with partial
// pivoting in float64; a singular matrix or one with a NaN or infinite
// entry (the translation included) is an error wrapping ErrSingular.
func (a Affine) Inverse() (Affine, error) {
	if a[3] != [4]float64{0, 0, 0, 1} {
		return Affine{}, fmt.Errorf("%w: affine %v has last row %v, want [0 0 0 1]", ErrSingular, a, a[3])
	}
	if !a.IsFinite() {
		return Affine{}, fmt.Errorf("%w: affine %v has non-finite entries", ErrSingular, a)
	}
	// Gauss-Jordan on [M | I] for the 3×3 part, then t' = -M⁻¹ t.
	var m [3][6]float64
	scale := 0.0
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			m[r][c] = a[r][c]
			scale = math.Max(scale, math.Abs(a[r][c]))
		}
		m[r][3+r] = 1
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return Affine{}, fmt.Errorf("%w: affine %v is not invertible", ErrSingular, a)
	}
	for c := 0; c < 3; c++ {
		p := c
		for r := c + 1; r < 3; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		if math.Abs(m[p][c]) <= scale*1e-14 {
			return Affine{}, fmt.Errorf("%w: affine %v", ErrSingular, a)
		}
		m[c], m[p] = m[p], m[c]
		inv := 1 / m[c][c]
		for k := range m[c] {
			m[c][k] *= inv
		}
		for r := 0; r < 3; r++ {
			if r == c || m[r][c] == 0 {
				continue
			}
			f := m[r][c]
			for k := range m[r] {
				m[r][k] -= f * m[c][k]
			}
		}
	}
	var out Affine
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			out[r][c] = m[r][3+c]
		}
		out[r][3] = -(out[r][0]*a[0][3] + out[r][1]*a[1][3] + out[r][2]*a[2][3])
	}
	out[3][3] = 1
	if !out.IsFinite() {
		return Affine{}, fmt.Errorf("%w: the inverse of affine %v overflows", ErrSingular, a)
	}
	return out, nil
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
