package conv

import "testing"

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
	c0 := cpuTime()
	for b.Loop() {
		directKern8x48(&a[0], &x[0], &offs[0], taps, ch, 4*256, &c[0], 0)
	}
	flops := 2.0 * dirMR * dirNR * taps * ch * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if s := (cpuTime() - c0).Seconds(); s > 0 {
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
