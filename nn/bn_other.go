//go:build !amd64 || purego

package nn

// Without assembly the Go kernels of bn_kern.go do all the work.

func sumVec(v []float32, shift float32, sq bool) (int, float64)        { return 0, 0 }
func dotVec(dy, x, y []float32, mu float32) (int, float64, float64)    { return 0, 0, 0 }
func applyVec(dst, src, r []float32, a, b float32, relu bool) int      { return 0 }
func maskVec(dst, dy, y []float32, fresh bool) int                     { return 0 }
func backVec(gx, dy, x, y []float32, k *bnBackK, fresh, mask bool) int { return 0 }
func lnAffineVec(dst, x, gm, bt []float32, is, shift float32) int      { return 0 }
