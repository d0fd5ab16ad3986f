package conv

import (
	"testing"

	"github.com/metasurv/metasurv/internal/cputime"
)

// BenchmarkDirectKernelL1 runs the 8×48 direct kernel on L1-resident data
// (27 taps × 8 channels) to show the kernel's own ceiling on this machine.
func BenchmarkDirectKernelL1(b *testing.B) {
	if !haveDirect() {
		b.Skip("no AVX-512")
	}
	const taps, ch = 27, 8
	a := make([]float32, taps*ch*dirMR)
	x := make([]float32, 4096)
	offs := make([]int, taps)
	for t := range offs {
		offs[t] = 4 * (t % 3 * 17) // overlapping rows as in a 3-wide kernel
	}
	var c [dirMR * dirNR]float32
	b.ResetTimer()
	c0 := cputime.Now()
	for b.Loop() {
		directKern8x48(&a[0], &x[0], &offs[0], taps, ch, 4*256, &c[0], 0)
	}
	flops := 2.0 * dirMR * dirNR * taps * ch * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if s := (cputime.Now() - c0).Seconds(); s > 0 {
		b.ReportMetric(flops/s/1e9, "GFLOP/s-cpu")
	}
}

// BenchmarkConv3dNoDirect runs the direct-kernel shapes through the
// column-matrix GEMM instead, the alternative useDirect weighs against.
func BenchmarkConv3dNoDirect(b *testing.B) {
	old := maxGridWaste
	maxGridWaste = 0
	defer func() { maxGridWaste = old }()
	benchPass(b, func(pl *Plan, x, w, y []float32) error { return pl.Forward(y, x, nil) })
}

// BenchmarkOCKernelL1 runs the 6-position × 64-channel kernel of the
// channel-vector forward on L1-resident data (49 taps × 2 channels, as a
// stem K block) to show its own ceiling.
func BenchmarkOCKernelL1(b *testing.B) {
	if !haveDirect() {
		b.Skip("no AVX-512")
	}
	const taps, ch = 49, 2
	a := make([]float32, taps*ch*ocNB)
	x := make([]float32, 4096)
	offs := make([]int, taps)
	for t := range offs {
		offs[t] = 4 * (t%7 + t/7*51) // the stem's shifts within a phase
	}
	var c [ocNP * ocNB]float32
	b.ResetTimer()
	c0 := cputime.Now()
	for b.Loop() {
		ocKern64x6(&a[0], &x[0], &offs[0], taps, ch, 4*1024, &c[0], 1)
	}
	flops := 2.0 * ocNP * ocNB * taps * ch * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if s := (cputime.Now() - c0).Seconds(); s > 0 {
		b.ReportMetric(flops/s/1e9, "GFLOP/s-cpu")
	}
}

// BenchmarkDWKernelL1 runs the 8-channel × 3-tap weight-gradient kernel
// over 1024 grid positions (one block) on L1/L2-resident data.
func BenchmarkDWKernelL1(b *testing.B) {
	if !haveDirect() {
		b.Skip("no AVX-512")
	}
	const n, ld = 1024, 1024 + 48 // rows not 4 KB apart, as on a real grid
	dy := make([]float32, 8*ld)
	x := make([]float32, n+256)
	offs := []int{0, 4, 4 * 13}
	var out [bwOut]float32
	b.ResetTimer()
	c0 := cputime.Now()
	for b.Loop() {
		dwKern8x3(&dy[0], 4*ld, &x[0], &offs[0], n, &out[0])
	}
	flops := 2.0 * 24 * n * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if s := (cputime.Now() - c0).Seconds(); s > 0 {
		b.ReportMetric(flops/s/1e9, "GFLOP/s-cpu")
	}
}
