package ops

import "math"

// expAffine sets dst[i] = exp(a*src[i] + b) and returns the sum of dst,
// with the AVX-512 kernel (on rows of at least 16 also on the last
// len%16, which it computes from the row's last 16), and Exp on shorter
// rows or without AVX-512.
func expAffine(dst, src []float32, a, b float32) float32 {
	src = src[:len(dst)]
	n, n16 := len(dst), 0
	var s float32
	if vecExp() {
		n16 = n &^ 15
		if n16 > 0 && n16 < n {
			// The last n%16 values from the vector kernel too, run on
			// the last 16 before dst is written (src may be dst): scalar
			// Exp on them cost as much as the rest of a 216-key row.
			var last [16]float32
			expAffineAVX512(last[:], src[n-16:], a, b)
			s = expAffineAVX512(dst[:n16], src[:n16], a, b)
			for i := n16; i < n; i++ {
				e := last[i-(n-16)]
				dst[i] = e
				s += e
			}
			return s
		}
		if n16 > 0 {
			s = expAffineAVX512(dst[:n16], src[:n16], a, b)
		}
	}
	for i := n16; i < n; i++ {
		e := Exp(a*src[i] + b)
		dst[i] = e
		s += e
	}
	return s
}

// maxOf returns the largest element of x (-Inf for an empty x; a NaN may
// or may not win, as with any max-based softmax).
func maxOf(x []float32) float32 {
	m := float32(math.Inf(-1))
	n16 := 0
	if vecExp() {
		n16 = len(x) &^ 15
		if n16 > 0 {
			m = maxAVX512(x[:n16])
		}
	}
	for _, v := range x[n16:] {
		m = max(m, v)
	}
	return m
}
