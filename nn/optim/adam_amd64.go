//go:build amd64 && !purego

package optim

import "github.com/metasurv/metasurv/internal/cpu"

//go:noescape
func adamAVX512(p, g, m, v []float32, k *adamK)

//go:noescape
func adamAVX2(p, g, m, v []float32, k *adamK)

// adamVec updates the longest prefix the vector kernel of the current CPU
// level handles (a multiple of its width) and returns its length.
func adamVec(p, g, m, v []float32, k *adamK) int {
	switch cpu.Current() {
	case cpu.AVX512:
		n := len(p) &^ 15
		if n > 0 {
			adamAVX512(p[:n], g[:n], m[:n], v[:n], k)
		}
		return n
	case cpu.AVX2:
		n := len(p) &^ 7
		if n > 0 {
			adamAVX2(p[:n], g[:n], m[:n], v[:n], k)
		}
		return n
	}
	return 0
}
