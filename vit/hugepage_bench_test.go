//go:build linux

package vit

import (
	"math"
	"syscall"
	"testing"
	"unsafe"

	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/nn"
)

// BenchmarkHugePages measures, in one process, what the weights' huge
// pages (nn.NewTensor through internal/hugepage) are worth: encoder
// passes of ViT-B/16 (vitb16) or LaMIM (lamim) alternate between the model as allocated and a copy
// whose parameters sit in an mmap'd region advised MADV_NOHUGEPAGE
// (4 KB pages, the Go heap's default where THP is "madvise"). Both see
// the same load; it reports each side's CPU seconds per pass, and fails
// if the two ever differ in a bit.
func BenchmarkHugePages(b *testing.B) {
	vitb := Config{InChannels: 4, ImgSize: Cube(96), PatchSize: Cube(16)}
	b.Run("vitb16", func(b *testing.B) { benchHugePages(b, vitb) })
	b.Run("lamim", func(b *testing.B) { benchHugePages(b, LaMIMEncoder()) })
}

func benchHugePages(b *testing.B, cfg Config) {
	huge, err := NewAutoEnc(cfg)
	if err != nil {
		b.Fatal(err)
	}
	small, err := NewAutoEnc(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ps, qs := nn.Parameters(huge), nn.Parameters(small)
	total := 0
	for _, p := range ps {
		total += len(p.Data)
	}
	mem, err := syscall.Mmap(-1, 0, total*4, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		b.Fatal(err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Madvise(mem, 15); err != nil { // MADV_NOHUGEPAGE
		b.Fatal(err)
	}
	all := unsafe.Slice((*float32)(unsafe.Pointer(&mem[0])), total)
	for i, p := range ps {
		q := qs[i]
		q.Data = all[:len(p.Data):len(p.Data)]
		all = all[len(p.Data):]
		copy(q.Data, p.Data)
	}
	x := nn.NewTensor(1, 4, 96, 96, 96)
	nn.InitNormal(x, 0, 1, nn.NewRNG(2))
	for _, bf := range []bool{false, true} {
		name := "fp32"
		if bf {
			name = "bf16"
		}
		b.Run(name, func(b *testing.B) {
			gh := nn.NewGraph(nn.Options{Arena: nn.NewArena(), BF16: bf})
			gs := nn.NewGraph(nn.Options{Arena: nn.NewArena(), BF16: bf})
			run := func(m *AutoEnc, g *nn.Graph) (*nn.Tensor, float64) {
				c0 := cputime.Now().Seconds()
				g.Reset()
				y := m.Encode(g, x).Normed
				if err := g.Err(); err != nil {
					b.Fatal(err)
				}
				return y, cputime.Now().Seconds() - c0
			}
			run(huge, gh)
			run(small, gs)
			var th, ts float64
			b.ResetTimer()
			for i := range b.N {
				var yh, ys *nn.Tensor
				var ch, cs float64
				if i%2 == 0 {
					yh, ch = run(huge, gh)
					ys, cs = run(small, gs)
				} else {
					ys, cs = run(small, gs)
					yh, ch = run(huge, gh)
				}
				th, ts = th+ch, ts+cs
				for j := range yh.Data {
					if math.Float32bits(yh.Data[j]) != math.Float32bits(ys.Data[j]) {
						b.Fatalf("pass %d: y[%d] = %v on huge pages, %v on 4 KB pages", i, j, yh.Data[j], ys.Data[j])
					}
				}
			}
			b.ReportMetric(th/float64(b.N), "huge-cpu-s/op")
			b.ReportMetric(ts/float64(b.N), "4k-cpu-s/op")
			b.ReportMetric(th/ts, "huge/4k")
		})
	}
}
