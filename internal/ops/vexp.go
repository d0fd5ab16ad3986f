package ops

import "math"

// expAffine sets dst[i] = exp(a*src[i] + b) and returns the sum of dst,
// with the AVX-512 kernel on the bulk and Exp on the tail.
func expAffine(dst, src []float32, a, b float32) float32 {
	src = src[:len(dst)]
	n16 := 0
	var s float32
	if vecExp() {
		n16 = len(dst) &^ 15
		if n16 > 0 {
			s = expAffineAVX512(dst[:n16], src[:n16], a, b)
		}
	}
	for i := n16; i < len(dst); i++ {
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
