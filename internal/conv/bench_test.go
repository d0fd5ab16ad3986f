package conv

import (
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/internal/parallel"
)

// benchShapes are the benchmark workloads (batch 1, all cores).
var benchShapes = []struct {
	name string
	p    Params
}{
	{"64x64_k3_24", Params{N: 1, InC: 64, OutC: 64, In: [3]int{24, 24, 24}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}},
	{"4x64_k7s2_96", Params{N: 1, InC: 4, OutC: 64, In: [3]int{96, 96, 96}, Kernel: [3]int{7, 7, 7}, Stride: [3]int{2, 2, 2}, Pad: [3]int{3, 3, 3}}},
	{"256x256_k3_6", Params{N: 1, InC: 256, OutC: 256, In: [3]int{6, 6, 6}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}},
	{"4x768_k16s16_96", Params{N: 1, InC: 4, OutC: 768, In: [3]int{96, 96, 96}, Kernel: [3]int{16, 16, 16}, Stride: [3]int{16, 16, 16}}},
	{"256x64_k1_24", Params{N: 1, InC: 256, OutC: 64, In: [3]int{24, 24, 24}, Kernel: [3]int{1, 1, 1}}},
	{"64x128_k3s2_24", Params{N: 1, InC: 64, OutC: 128, In: [3]int{24, 24, 24}, Kernel: [3]int{3, 3, 3}, Stride: [3]int{2, 2, 2}, Pad: [3]int{1, 1, 1}}},
	{"dw192_k3_24", Params{N: 1, InC: 192, OutC: 192, In: [3]int{24, 24, 24}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}, Groups: 192}},
}

// benchPass times pass on every benchmark shape and reports GFLOP/s of
// wall time and "GFLOP/s-cpu": FLOPs per CPU-second times the number of
// workers, the wall-clock speed the run would have on otherwise idle cores
// (the benchmark machine is shared).
func benchPass(b *testing.B, pass func(pl *Plan, x, w, y []float32) error) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			pl, err := NewPlan(s.p)
			if err != nil {
				b.Fatal(err)
			}
			x, w, y := randSlice(r, s.p.InLen()), randSlice(r, s.p.WeightLen()), randSlice(r, s.p.OutLen())
			if err := pl.SetWeights(w); err != nil {
				b.Fatal(err)
			}
			if err := pass(pl, x, w, y); err != nil { // warm-up: workspace, packing
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			c0 := cputime.Now()
			for b.Loop() {
				_ = pass(pl, x, w, y)
			}
			flops := s.p.FLOPs() * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			if c := (cputime.Now() - c0).Seconds(); c > 0 {
				b.ReportMetric(flops/c*float64(parallel.Workers())/1e9, "GFLOP/s-cpu")
			}
		})
	}
}

func BenchmarkConv3d(b *testing.B) {
	benchPass(b, func(pl *Plan, x, w, y []float32) error { return pl.Forward(y, x, nil) })
}

func BenchmarkConv3dBackwardData(b *testing.B) {
	benchPass(b, func(pl *Plan, x, w, y []float32) error { return pl.BackwardData(x, y) })
}

func BenchmarkConv3dBackwardWeight(b *testing.B) {
	var dw []float32
	benchPass(b, func(pl *Plan, x, w, y []float32) error {
		if len(dw) < len(w) {
			dw = make([]float32, len(w))
		}
		return pl.BackwardWeight(dw[:len(w)], nil, x, y)
	})
}
