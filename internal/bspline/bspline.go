// Package bspline holds the cubic B-spline basis shared by the library's
// interpolation (volume: BSpline3 sampling) and its Parzen-window
// histograms (register: Mattes mutual information): one definition of
// the weights and of their derivatives.
package bspline

// Weights returns the four cubic B-spline weights for fractional offset
// t ∈ [0, 1), for the coefficients at floor−1 … floor+2.
func Weights(t float64) [4]float64 {
	u := 1 - t
	t2 := t * t
	t3 := t2 * t
	return [4]float64{u * u * u / 6, (3*t3 - 6*t2 + 4) / 6, (-3*t3 + 3*t2 + 3*t + 1) / 6, t3 / 6}
}

// Derivs returns the derivatives of Weights with respect to t.
func Derivs(t float64) [4]float64 {
	u := 1 - t
	t2 := t * t
	return [4]float64{-u * u / 2, 1.5*t2 - 2*t, -1.5*t2 + t + 0.5, t2 / 2}
}
