package nn

import "github.com/metasurv/metasurv/internal/parallel"

// SetThreads sets the number of goroutines every kernel uses from now on —
// GEMM, convolution, attention and the elementwise operations of this
// package, and through the same worker pool the registration and
// normalisation loops of register and norm. n ≤ 0 restores the default,
// GOMAXPROCS. Set it once at start-up (an embedding server may want fewer
// threads than cores); it is safe to call at any time, and loops running
// at that moment finish with the previous count.
func SetThreads(n int) { parallel.SetThreads(n) }

// Threads returns the number of goroutines the kernels use.
func Threads() int { return parallel.Workers() }
