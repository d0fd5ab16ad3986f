package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/internal/parallel"
)

type benchShape struct {
	name           string
	transA, transB bool
	m, n, k        int
}

// benchShapes are square sizes plus the GEMMs of metasurv's networks:
// a 3×3×3 convolution 64→64 on 24³ as W·cols (m=64, n=24³, k=64·27), the
// ViT-B/16 MLP and projections (216 tokens, 768 wide), and Q·Kᵀ of one head.
var benchShapes = []benchShape{
	{"256", false, false, 256, 256, 256},
	{"1024", false, false, 1024, 1024, 1024},
	{"2048", false, false, 2048, 2048, 2048},
	{"conv_64x13824x1728", false, false, 64, 13824, 1728},
	{"vit_216x768x768", false, true, 216, 768, 768},
	{"vit_216x3072x768", false, true, 216, 3072, 768},
	{"w_768x216x768", false, false, 768, 216, 768},
	{"qk_216x216x64", false, true, 216, 216, 64},
}

func benchSgemm(b *testing.B, s benchShape) {
	r := rand.New(rand.NewPCG(1, 2))
	a := randSlice(r, s.m*s.k)
	bb := randSlice(r, s.k*s.n)
	c := make([]float32, s.m*s.n)
	lda, ldb := s.k, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
	b.ResetTimer()
	cpu0 := cputime.Now().Seconds()
	for b.Loop() {
		Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
	}
	reportFlops(b, 2*float64(s.m)*float64(s.n)*float64(s.k), cpu0)
}

// BenchmarkSgemm runs at the detected level on all cores.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) { benchSgemm(b, s) })
	}
}

// BenchmarkSgemmLevels compares the kernels, on all cores and on one.
func BenchmarkSgemmLevels(b *testing.B) {
	for _, l := range cpu.Levels() {
		for _, threads := range []int{0, 1} {
			for _, s := range benchShapes {
				if l == cpu.Portable && s.m*s.n*s.k > 1<<28 {
					continue
				}
				name := fmt.Sprintf("%v/t%d/%s", l, threads, s.name)
				b.Run(name, func(b *testing.B) {
					defer cpu.SetLevel(l)()
					if threads > 0 {
						defer parallel.SetMaxWorkers(threads)()
					}
					benchSgemm(b, s)
				})
			}
		}
	}
}

// BenchmarkKernel measures one micro-kernel on L1-resident panels: the
// ceiling for Sgemm at that level on one core.
func BenchmarkKernel(b *testing.B) {
	for _, l := range cpu.Levels() {
		b.Run(l.String(), func(b *testing.B) {
			kn := KernelFor(l)
			r := rand.New(rand.NewPCG(1, 2))
			k := kn.KC
			a, bb := randSlice(r, k*kn.MR), randSlice(r, k*kn.NR)
			c := make([]float32, kn.MR*kn.NR)
			cpu0 := cputime.Now().Seconds()
			for b.Loop() {
				kn.Run(k, a, bb, c, kn.NR, 1)
			}
			reportFlops(b, 2*float64(kn.MR*kn.NR*k), cpu0)
		})
	}
}

// reportFlops reports GFLOP/s of wall time and, because the cores are often
// shared, GFLOP per CPU-second of this process (per-core efficiency).
func reportFlops(b *testing.B, flopsPerOp float64, cpu0 float64) {
	flops := flopsPerOp * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpuSec := cputime.Now().Seconds() - cpu0; cpuSec > 0 {
		b.ReportMetric(flops/cpuSec/1e9, "GFLOP/cpu-s")
	}
}
