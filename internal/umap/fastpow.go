package umap

import "math"

// pow returns x^y for x > 0 to about 1e-9 relative accuracy, several times
// faster than math.Pow: log2 from the exponent bits and an odd series in
// (m−1)/(m+1), exp2 from a rounded integer part and a degree-9 series. The
// layout spends most of its time here; umap-learn computes the same powers
// in float32.
func pow(x, y float64) float64 {
	bits := math.Float64bits(x)
	ex := int(bits>>52) & 0x7ff
	if ex == 0 || ex == 0x7ff || x <= 0 {
		return math.Pow(x, y)
	}
	e := float64(ex - 1023)
	m := math.Float64frombits(bits&^(0x7ff<<52) | 1023<<52) // [1, 2)
	if m > math.Sqrt2 {
		m *= 0.5
		e++
	}
	f := (m - 1) / (m + 1)
	f2 := f * f
	ln := 2 * f * (1 + f2*(1.0/3+f2*(1.0/5+f2*(1.0/7+f2*(1.0/9+f2*(1.0/11))))))
	l2 := e + ln*(1/math.Ln2)
	z := y * l2
	if z > 1000 || z < -1000 {
		return math.Pow(x, y)
	}
	k := math.Round(z)
	t := (z - k) * math.Ln2 // |t| ≤ ln2/2
	p := 1 + t*(1+t*(1.0/2+t*(1.0/6+t*(1.0/24+t*(1.0/120+t*(1.0/720+t*(1.0/5040+t*(1.0/40320+t*(1.0/362880)))))))))
	return math.Float64frombits(math.Float64bits(p) + uint64(int64(k))<<52)
}
