package ops

import (
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/internal/parallel"
)

// BenchmarkPool3d times the pooling kernels at every cpu level on the
// ResNet18-3D stem pool of a batch of two (2×64 channels of 48³, k3 s2 p1)
// and the DenseNet transition (k2 s2), reporting GB/s of memory traffic
// (inputs read plus outputs written, indices included), per wall second
// and per CPU second times the workers (what it would be on idle cores).
func BenchmarkPool3d(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const nc = 128
	in := [3]int{48, 48, 48}
	k3 := Pool{Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}}
	k2 := Pool{Kernel: [3]int{2, 2, 2}}
	out, _ := k3.Out(in)
	x, dx := randN(r, nc*vol(in), 1), make([]float32, nc*vol(in))
	y, idx, dy := make([]float32, nc*vol(out)), make([]int32, nc*vol(out)), randN(r, nc*vol(out), 1)
	if err := MaxPool3d(y, idx, x, nc, in, k3); err != nil {
		b.Fatal(err)
	}
	out2, _ := k2.Out(in)
	y2 := make([]float32, nc*vol(out2))
	sIn, sOut := 4*len(x), 4*len(y)
	cases := []struct {
		name  string
		bytes int
		f     func() error
	}{
		{"max_forward_k3s2p1_128x48", sIn + 2*sOut, func() error { return MaxPool3d(y, idx, x, nc, in, k3) }},
		{"max_backward_k3s2p1_128x48", sIn + 2*sOut, func() error { return MaxPool3dBackward(dx, dy, idx, nc, in, k3) }},
		{"avg_forward_k3s2p1_128x48", sIn + sOut, func() error { return AvgPool3d(y, x, nc, in, k3) }},
		{"avg_backward_k3s2p1_128x48", sIn + sOut, func() error { return AvgPool3dBackward(dx, y, nc, in, k3) }},
		{"avg_forward_k2_128x48", sIn + 4*len(y2), func() error { return AvgPool3d(y2, x, nc, in, k2) }},
	}
	for _, c := range cases {
		for _, l := range cpu.Levels() {
			b.Run(c.name+"/"+l.String(), func(b *testing.B) {
				defer cpu.SetLevel(l)()
				if err := c.f(); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				c0 := cputime.Now()
				for b.Loop() {
					_ = c.f()
				}
				bytes := float64(c.bytes) * float64(b.N)
				b.ReportMetric(bytes/b.Elapsed().Seconds()/1e9, "GB/s")
				if cs := (cputime.Now() - c0).Seconds(); cs > 0 { // per CPU-second, times the workers
					b.ReportMetric(bytes/cs*float64(parallel.Workers())/1e9, "GB/s-cpu")
				}
			})
		}
	}
}
