package attention

import (
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/internal/parallel"
)

func benchAttention(b *testing.B, backward bool) {
	for _, bf := range []bool{false, true} {
		if bf && backward {
			continue // Backward is float32 only
		}
		name := "216x768_h12"
		if bf {
			name += "_bf16"
		}
		benchAttention1(b, backward, bf, name)
	}
}

func benchAttention1(b *testing.B, backward, bf bool, name string) {
	b.Run(name, func(b *testing.B) {
		c := Config{B: 1, Heads: 12, T: 216, D: 64, BF16: bf}
		c.Q, c.K, c.V = PackedQKV(12, 216, 64), PackedQKV(12, 216, 64), PackedQKV(12, 216, 64)
		c.Out = TokenMajor(12, 216, 64)
		pl, err := NewPlan(c)
		if err != nil {
			b.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 1))
		qkv, out := rnd(r, 216*3*768), rnd(r, 216*768)
		dqkv := make([]float32, len(qkv))
		hd := 768
		run := func() error {
			if backward {
				return pl.Backward(dqkv, dqkv[hd:], dqkv[2*hd:], out, qkv, qkv[hd:], qkv[2*hd:])
			}
			return pl.Forward(out, qkv, qkv[hd:], qkv[2*hd:])
		}
		if err := run(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		c0 := cputime.Now()
		for b.Loop() {
			_ = run()
		}
		cpu := (cputime.Now() - c0).Seconds()
		flops := c.FLOPs()
		if backward {
			flops *= 2 // four T×T×D products instead of two
		}
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		if cpu > 0 { // speed on otherwise idle cores (the machine is shared)
			b.ReportMetric(flops*float64(b.N)/cpu*float64(parallel.Workers())/1e9, "GFLOP/s-cpu")
		}
	})
}

func BenchmarkAttention(b *testing.B)         { benchAttention(b, false) }
func BenchmarkAttentionBackward(b *testing.B) { benchAttention(b, true) }
