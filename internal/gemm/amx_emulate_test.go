package gemm

import (
	"runtime"
	"testing"
	"unsafe"

	"github.com/metasurv/metasurv/internal/cpu"
)

// TestAMXEmulated runs this package's bfloat16 tests with the AMX driver
// on the emulated tile kernel where the CPU has AVX512_BF16 but no AMX
// (the AMD hosts), so that the AMX path's packing, tile descriptors,
// chunks, merges of ragged tiles and epilogues are tested on every
// development machine, not only on Intel hosts; and checks that the
// emulation did run.
func TestAMXEmulated(t *testing.T) {
	needBF16(t)
	if cpu.Extensions().AMXBF16 {
		t.Skip("this CPU has AMX: the other tests run the real tiles")
	}
	defer EmulateAMX(true)()
	if !useAMX() || !UsesAMX() || !EmulatesAMX() {
		t.Fatal("emulation on, but the AMX path is not selected")
	}
	before := emulatedBlocks.Load()
	for _, c := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"SgemmBF16MatchesReference", TestSgemmBF16MatchesReference},
		{"SgemmBF16Degenerate", TestSgemmBF16Degenerate},
		{"SgemmBF16Serial", TestSgemmBF16Serial},
		{"SgemmBF16W", TestSgemmBF16W},
		{"SgemmBF16StreamA", TestSgemmBF16StreamA},
		{"SgemmPairDeclines", TestSgemmPairDeclines},
		{"SgemmBF16Allocations", TestSgemmBF16Allocations},
	} {
		t.Run(c.name, c.f)
	}
	if emulatedBlocks.Load() == before {
		t.Fatal("no tile block ran on the emulated kernel")
	}
}

// The emulated tile kernel against a direct sum over its documented
// operand layout: two row blocks, three slivers, two K steps, with and
// without accumulation into a strided C.
func TestAMXBlockGo(t *testing.T) {
	const rbs, nsb, kn, ldc = 2, 3, 2, 3*bfTile + 5
	a := make([]uint16, rbs*kn*bfTile*bfTile)
	for i := range a {
		a[i] = ToBF16(float32(i%7) - 3)
	}
	var bp [bfGroup]*uint32
	bsl := make([][]uint32, nsb)
	for s := range nsb {
		bsl[s] = make([]uint32, kn*bfTile*bfTile/2)
		for i := range bsl[s] {
			lo, hi := ToBF16(float32((i+s)%5)-2), ToBF16(float32((3*i+s)%9)/4)
			bsl[s][i] = uint32(hi)<<16 | uint32(lo)
		}
		bp[s] = &bsl[s][0]
	}
	for _, acc := range []int{0, 1} {
		c := make([]float32, rbs*bfTile*ldc)
		for i := range c {
			c[i] = float32(i % 3)
		}
		old := append([]float32(nil), c...)
		tiles := make([]amxTile, rbs*nsb)
		for r := range rbs {
			for s := range nsb {
				tiles[r*nsb+s] = amxTile{p: uintptr(unsafe.Pointer(&c[r*bfTile*ldc+s*bfTile])), ld: 4 * ldc}
			}
		}
		amxBlockGo(kn, &a[0], kn*bfTile*bfTile*2, rbs, &bp, nsb, &tiles[0], acc)
		runtime.KeepAlive(c)
		for r := range rbs {
			for s := range nsb {
				for i := range bfTile {
					for j := range bfTile {
						var want float64
						if acc != 0 {
							want = float64(old[(r*bfTile+i)*ldc+s*bfTile+j])
						}
						for k := range kn * bfTile {
							av := FromBF16(a[r*kn*bfTile*bfTile+k/bfTile*bfTile*bfTile+i*bfTile+k%bfTile])
							w := bsl[s][k/bfTile*bfTile*bfTile/2+(k%bfTile/2)*bfTile+j]
							bv := FromBF16(uint16(w >> (16 * (k % 2))))
							want += float64(av) * float64(bv)
						}
						if got := c[(r*bfTile+i)*ldc+s*bfTile+j]; float64(got) != want {
							t.Fatalf("acc %d tile (%d,%d) C[%d][%d] = %g, want %g", acc, r, s, i, j, got, want)
						}
					}
				}
			}
		}
		for r := range rbs * bfTile { // the stride padding is not written
			for j := nsb * bfTile; j < ldc; j++ {
				if c[r*ldc+j] != old[r*ldc+j] {
					t.Fatalf("acc %d: C[%d][%d] beyond the tiles written", acc, r, j)
				}
			}
		}
	}
}
