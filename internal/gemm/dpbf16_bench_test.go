package gemm

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/metasurv/metasurv/internal/cputime"
)

// BenchmarkDPBF16Kernel times the 8×32 VDPBF16PS kernel as a bf16
// weights-stationary block runs it (7 slivers × 4 quarters, K steps 24 as
// at k = 768 and 96 as at 3072, operands in L2), in G VDPBF16PS per
// CPU-second: plain; P prefetching lines already in cache; P prefetching
// a cold 64 MB stream (4 KB pages: a page walk every 21 K steps); the
// same with one line of each page of the block's stream asked for first
// (block's page touch); R rounding an L2-resident block. On the Zen 4
// host the plain kernel runs at the clock (3.6 G/s at 3.65 GHz: one
// VDPBF16PS per cycle, the unit's throughput), so a taller tile has no
// issue slots to gain; the cold stream cost 4–7 %, the page touch won
// back most of it.
func BenchmarkDPBF16Kernel(b *testing.B) {
	if !HaveBF16() {
		b.Skip("no AVX512_BF16")
	}
	r := rand.New(rand.NewPCG(1, 2))
	big := randSlice(r, 64<<20/4)
	for _, ks := range []int{24, 96} {
		a := make([]uint16, ks*bfTile*bfTile)
		bb := make([]uint32, 7*ks*bfTile*bfTile/2)
		for i := range a {
			a[i] = ToBF16(float32(r.NormFloat64()))
		}
		for i := range bb {
			bb[i] = uint32(ToBF16(float32(r.NormFloat64()))) | uint32(ToBF16(float32(r.NormFloat64())))<<16
		}
		ct := make([]float32, bfTile*7*bfTile)
		src := randSlice(r, bfTile*ks*bfTile)
		rdst := make([]uint16, ks*bfTile*bfTile)
		for _, v := range []string{"plain", "P-hot", "P-cold", "P-cold-touch", "R"} {
			b.Run(v+"/ks"+itoa(ks), func(b *testing.B) {
				const st = 3 * 64
				blk := 28 * ks * st // bytes a block's calls prefetch
				hot := uintptr(unsafe.Pointer(&src[0]))
				off, n := 0, 0
				cpu0 := cputime.Now().Seconds()
				for b.Loop() {
					if off+blk > len(big)*4 {
						off = 0
					}
					if v == "P-cold-touch" {
						prefetchRows(&big[off/4], pageFloats, (blk+pageBytes-1)/pageBytes, 1)
					}
					for sb := range 7 {
						bp := &bb[sb*ks*bfTile*bfTile/2]
						for rq := range 4 {
							wa, c := &a[rq*8*bfTile], &ct[rq*8*7*bfTile+sb*bfTile]
							switch v {
							case "plain":
								dpbf16Kern8x32(ks, wa, bp, c, 7*bfTile, 0)
							case "P-hot":
								dpbf16Kern8x32P(ks, wa, bp, c, 7*bfTile, 0, hot, 0)
							case "P-cold", "P-cold-touch":
								pf := uintptr(unsafe.Pointer(&big[0])) + uintptr(off)
								dpbf16Kern8x32P(ks, wa, bp, c, 7*bfTile, 0, pf, st)
								off += ks * st
							case "R":
								dpbf16Kern8x32R(ks, wa, bp, c, 7*bfTile, 0, hot, 0, &src[(sb*4+rq)%bfTile*ks*bfTile], &rdst[0], ks, ks)
							}
							n++
						}
					}
				}
				b.ReportMetric(float64(n*ks*256)/(cputime.Now().Seconds()-cpu0)/1e9, "Gdp/cpu-s")
			})
		}
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
