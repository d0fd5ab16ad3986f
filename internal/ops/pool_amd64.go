//go:build amd64 && !purego

package ops

import "github.com/metasurv/metasurv/internal/cpu"

// vecPool reports whether the AVX-512 pooling kernels may run now.
func vecPool() bool { return cpu.Current() >= cpu.AVX512 }

//go:noescape
func maxPoolAVX512(y []float32, idx []int32, x []float32, rows, blocks []int32, blockBytes, tapBytes, rowBytes int, consts *[48]int32) bool

//go:noescape
func addRowAVX512(dst, src []float32)

// addRow adds src[:len(dst)] to dst.
func addRow(dst, src []float32) {
	if vecPool() {
		addRowAVX512(dst, src[:len(dst)])
		return
	}
	addRowGo(dst, src)
}

// run max-pools one channel with the AVX-512 kernel; false means a window
// held only -Inf and the caller must redo the channel in Go.
func (pl *maxPlan) run(y []float32, idx []int32, x []float32) bool {
	return maxPoolAVX512(y, idx, x, pl.rows, pl.blocks, pl.blockBytes, pl.tapBytes, pl.rowBytes, &pl.consts)
}
