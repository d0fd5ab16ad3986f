package ops

import (
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/internal/parallel"
)

func benchBytes(b *testing.B, bytes int, f func()) {
	f()
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cputime.Now()
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
	if c := (cputime.Now() - c0).Seconds(); c > 0 { // per CPU-second, times the workers
		b.ReportMetric(float64(bytes)*float64(b.N)/c*float64(parallel.Workers())/1e6, "MB/s-cpu")
	}
}

// BenchmarkMaxPool3d is the ResNet stem pool: 64×48³ -> 64×24³, k3 s2 p1.
func BenchmarkMaxPool3d(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	in := [3]int{48, 48, 48}
	p := Pool{Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}}
	out, _ := p.Out(in)
	x := randN(r, 64*vol(in), 1)
	y, idx := make([]float32, 64*vol(out)), make([]int32, 64*vol(out))
	benchBytes(b, 4*len(x), func() { _ = MaxPool3d(y, idx, x, 64, in, p) })
}

// BenchmarkGELU is one ViT-B MLP activation: 216 tokens × 3072.
func BenchmarkGELU(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := randN(r, 216*3072, 1)
	y := make([]float32, len(x))
	benchBytes(b, 4*len(x), func() { GELU(y, x) })
}

// BenchmarkSoftmax is the attention probabilities of one ViT-B layer.
func BenchmarkSoftmax(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := randN(r, 12*216*216, 1)
	benchBytes(b, 4*len(x), func() { _ = Softmax(x, x, 216) })
}

// BenchmarkLayerNorm is one ViT-B LayerNorm: 216 tokens × 768.
func BenchmarkLayerNorm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := randN(r, 216*768, 1)
	g, bt := randN(r, 768, 1), randN(r, 768, 1)
	y := make([]float32, len(x))
	benchBytes(b, 4*len(x), func() { _ = LayerNorm(y, x, g, bt, 768, 1e-5, nil, nil) })
}

// BenchmarkGELUBackward is the gradient of one ViT-B MLP activation.
func BenchmarkGELUBackward(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, dy := randN(r, 216*3072, 1), randN(r, 216*3072, 1)
	dx := make([]float32, len(x))
	benchBytes(b, 4*len(x), func() { GELUBackward(dx, x, dy) })
}
