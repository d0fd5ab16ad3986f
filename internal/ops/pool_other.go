//go:build !amd64 || purego

package ops

// vecPool reports whether the AVX-512 pooling kernels may run: never here.
func vecPool() bool { return false }

// run reports false (do the channel in Go): there is no vector kernel here.
func (pl *maxPlan) run(y []float32, idx []int32, x []float32) bool { return false }

// addRow adds src[:len(dst)] to dst.
func addRow(dst, src []float32) { addRowGo(dst, src) }
