package ops

import "math"

// Exp returns e**x in float32 with a relative error below 2e-7 over the
// whole float32 range: Cody–Waite reduction x = n*ln2 + r with |r| <= ln2/2,
// a degree-7 Taylor polynomial for e**r, and exponent scaling. It is several
// times faster than converting to float64 math.Exp and is the scalar twin of
// the vector kernels.
func Exp(x float32) float32 {
	switch {
	case x > 88.72284:
		return float32(math.Inf(1))
	case x < -103.97208:
		return 0
	case x != x:
		return x
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2hi
	r -= n * ln2lo
	p := expPoly(r)
	ni := int32(n)
	if ni < -125 { // subnormal result: scale in two steps
		return p * math.Float32frombits(uint32(ni+126+127)<<23) * math.Float32frombits(uint32(-126+127)<<23)
	}
	if ni > 127 {
		return p * 2 * math.Float32frombits(uint32(ni-1+127)<<23)
	}
	return p * math.Float32frombits(uint32(ni+127)<<23)
}

// expPoly is e**r for |r| <= ln2/2 (Taylor to degree 7, error < 1e-8).
func expPoly(r float32) float32 {
	return 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
}

// Erfc returns the complementary error function 1 - erf(x) in float32 with
// a relative error below 3e-7 everywhere (so the far tails, where erfc is
// tiny, stay accurate).
func Erfc(x float32) float32 { return float32(erfc64(float64(x))) }

// erfc64 is the Chebyshev fit erfc(z) = t*exp(-z*z + P(t)), t = 1/(1+|z|/2),
// of Press et al., Numerical Recipes §6.2 (fractional error < 1.2e-7).
func erfc64(x float64) float64 {
	z := math.Abs(x)
	t := 1 / (1 + 0.5*z)
	r := t * math.Exp(-z*z-1.26551223+t*(1.00002368+t*(0.37409196+t*(0.09678418+
		t*(-0.18628806+t*(0.27886807+t*(-1.13520398+t*(1.48851587+t*(-0.82215223+t*0.17087277)))))))))
	if x < 0 {
		return 2 - r
	}
	return r
}

// Erf returns the error function in float32 with a relative error below
// 3e-7: a Maclaurin series near zero (where 1 - erfc would cancel) and Erfc
// elsewhere.
func Erf(x float32) float32 {
	z := float64(x)
	if math.Abs(z) < 0.5 {
		z2 := z * z
		// 2/sqrt(pi) * sum (-1)^n z^(2n+1) / (n! (2n+1))
		s := z * (1 - z2*(1.0/3-z2*(1.0/10-z2*(1.0/42-z2*(1.0/216-z2*(1.0/1320-z2*(1.0/9360-z2/75600)))))))
		return float32(s * 1.1283791670955126)
	}
	if x > 0 {
		return 1 - Erfc(x)
	}
	return Erfc(-x) - 1
}

// normCDF is Φ(x) = erfc(-x/√2)/2, accurate in relative terms in the lower
// tail, which GELU needs for large negative inputs.
func normCDF(x float64) float64 { return 0.5 * erfc64(-x*(1/math.Sqrt2)) }
