//go:build amd64 && !purego

package nn

import "github.com/metasurv/metasurv/internal/cpu"

//go:noescape
func sumAVX512(v []float32, shift float32, sq bool) float64

//go:noescape
func sumAVX2(v []float32, shift float32, sq bool) float64

//go:noescape
func dotAVX512(dy, x, y []float32, mu float32, masked bool) (sd, sdx float64)

//go:noescape
func dotAVX2(dy, x, y []float32, mu float32, masked bool) (sd, sdx float64)

//go:noescape
func applyAVX512(dst, src, r []float32, a, b float32, relu bool)

//go:noescape
func applyAVX2(dst, src, r []float32, a, b float32, relu bool)

//go:noescape
func lnAffineAVX512(dst, x, gm, bt []float32, is, shift float32)

//go:noescape
func maskAVX512(dst, dy, y []float32, fresh bool)

//go:noescape
func maskAVX2(dst, dy, y []float32, fresh bool)

//go:noescape
func backAVX512(gx, dy, x, y []float32, k *bnBackK, fresh, mask bool)

//go:noescape
func backAVX2(gx, dy, x, y []float32, k *bnBackK, fresh, mask bool)

// sumVec sums the whole blocks of v and returns how many values it took.
func sumVec(v []float32, shift float32, sq bool) (int, float64) {
	n := len(v) / sumBlock * sumBlock
	if n == 0 {
		return 0, 0
	}
	switch cpu.Current() {
	case cpu.AVX512:
		return n, sumAVX512(v[:n], shift, sq)
	case cpu.AVX2:
		return n, sumAVX2(v[:n], shift, sq)
	}
	return 0, 0
}

// dotVec is dotStats over the whole blocks of dy.
func dotVec(dy, x, y []float32, mu float32) (int, float64, float64) {
	n := len(dy) / sumBlock * sumBlock
	if n == 0 {
		return 0, 0, 0
	}
	x = x[:n]
	if y != nil {
		y = y[:n]
	}
	var sd, sdx float64
	switch cpu.Current() {
	case cpu.AVX512:
		sd, sdx = dotAVX512(dy[:n], x, y, mu, y != nil)
	case cpu.AVX2:
		sd, sdx = dotAVX2(dy[:n], x, y, mu, y != nil)
	default:
		return 0, 0, 0
	}
	return n, sd, sdx
}

// vecLen is the number of leading values of an n-long elementwise pass
// the current level's kernels handle (0 for portable).
func vecLen(n int) int {
	switch cpu.Current() {
	case cpu.AVX512:
		return n &^ 15
	case cpu.AVX2:
		return n &^ 7
	}
	return 0
}

func applyVec(dst, src, r []float32, a, b float32, relu bool) int {
	n := vecLen(len(src))
	if n == 0 {
		return 0
	}
	dst, src = dst[:n], src[:n]
	if r != nil {
		r = r[:n]
	}
	if cpu.Current() == cpu.AVX512 {
		applyAVX512(dst, src, r, a, b, relu)
	} else {
		applyAVX2(dst, src, r, a, b, relu)
	}
	return n
}

func maskVec(dst, dy, y []float32, fresh bool) int {
	n := vecLen(len(dy))
	if n == 0 {
		return 0
	}
	dst, dy, y = dst[:n], dy[:n], y[:n]
	if cpu.Current() == cpu.AVX512 {
		maskAVX512(dst, dy, y, fresh)
	} else {
		maskAVX2(dst, dy, y, fresh)
	}
	return n
}

func backVec(gx, dy, x, y []float32, k *bnBackK, fresh, mask bool) int {
	n := vecLen(len(dy))
	if n == 0 {
		return 0
	}
	gx, dy, x = gx[:n], dy[:n], x[:n]
	if mask {
		y = y[:n]
	} else {
		y = nil
	}
	if cpu.Current() == cpu.AVX512 {
		backAVX512(gx, dy, x, y, k, fresh, mask)
	} else {
		backAVX2(gx, dy, x, y, k, fresh, mask)
	}
	return n
}

// lnAffineVec is affineRow with both gamma and beta over the leading
// multiple of 16 values (AVX-512 only; rounded as the Go loop).
func lnAffineVec(dst, x, gm, bt []float32, is, shift float32) int {
	if cpu.Current() != cpu.AVX512 {
		return 0
	}
	n := len(x) &^ 15
	if n == 0 {
		return 0
	}
	lnAffineAVX512(dst[:n], x[:n], gm[:n], bt[:n], is, shift)
	return n
}
