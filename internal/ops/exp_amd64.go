//go:build amd64 && !purego

package ops

import "github.com/metasurv/metasurv/internal/cpu"

//go:noescape
func expAffineAVX512(dst, src []float32, a, b float32) float32

//go:noescape
func maxAVX512(x []float32) float32

// vecExp reports whether the AVX-512 exp kernels may run now.
func vecExp() bool { return cpu.Current() >= cpu.AVX512 }

//go:noescape
func geluAVX512(dst, src []float32)

//go:noescape
func geluGradAVX512(dx, x, dy []float32)
