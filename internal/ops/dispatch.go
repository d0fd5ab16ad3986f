package ops

// Vector kernels used by the exported functions. Each picks the widest
// implementation the current cpu level allows; the portable Go versions are
// the reference that the assembly ones are tested against.

func addVec(dst, a, b []float32)                     { addGo(dst, a, b) }
func mulVec(dst, a, b []float32)                     { mulGo(dst, a, b) }
func scaleVec(dst []float32, s float32, x []float32) { scaleGo(dst, s, x) }
func axpyVec(alpha float32, x, y []float32)          { axpyGo(alpha, x, y) }
func reluVec(dst, x []float32)                       { reluGo(dst, x) }

// geluVec runs the AVX-512 kernel on the bulk and Go on the tail.
func geluVec(dst, x []float32) {
	n16 := 0
	if vecExp() {
		n16 = len(dst) &^ 15
		if n16 > 0 {
			geluAVX512(dst[:n16], x[:n16])
		}
	}
	geluGo(dst[n16:], x[n16:len(dst)])
}
