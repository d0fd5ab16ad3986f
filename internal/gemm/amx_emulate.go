package gemm

import (
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/metasurv/metasurv/internal/cpu"
)

// AMX emulation, for testing. The AMX driver — A and B packing, tile
// descriptors, chunking, merges of partial tiles, epilogues, and the
// callers that choose packed weights when UsesAMX — changes more often
// than the tile kernel itself, and the development machine often lands on
// hosts without AMX. With METASURV_EMULATE_AMX=1 in the environment, on a
// CPU with AVX512_BF16 but no AMX, useAMX reports true and amxBlock's
// arithmetic (TDPBF16PS: float32 accumulation of exact bfloat16 products,
// a pair at a time) runs in Go over the same operands, so every test of
// the bfloat16 paths exercises the AMX driver:
//
//	METASURV_EMULATE_AMX=1 go test ./internal/gemm ./internal/conv ./nn ./vit
//	METASURV_EMULATE_AMX=1 go test -run BF16 ./cnn
//
// It is a few hundred times slower than the hardware and is never on by
// default; on a CPU with AMX the variable is ignored.
//
// The variable is read at the first GEMM, not at package initialisation,
// so that go test's cache knows the tests depend on it.
var emulateEnv = sync.OnceValue(func() bool { return os.Getenv("METASURV_EMULATE_AMX") == "1" })

// emulateAMX turns the emulation on without the variable (tests).
var emulateAMX bool

// EmulateAMX turns the emulation on or off for the tests of packages
// built on this one (their AMX paths, such as packed weights chosen when
// UsesAMX) and returns a function restoring the previous setting. It has
// effect only where EmulatesAMX can hold (AVX512_BF16 without AMX). It
// must not run while a GEMM runs.
func EmulateAMX(on bool) (restore func()) {
	old := emulateAMX
	emulateAMX = on
	return func() { emulateAMX = old }
}

// EmulatesAMX reports whether the AMX kernels are being emulated.
func EmulatesAMX() bool {
	return (emulateAMX || emulateEnv()) && HaveBF16() && !cpu.Extensions().AMXBF16
}

// emulatedBlocks counts amxBlockGo's calls (tests check that the
// emulation ran).
var emulatedBlocks atomic.Int64

// tileBlock is amxBlock, or its emulation.
func tileBlock(kn int, a *uint16, aStride, rbs int, b *[bfGroup]*uint32, nsb int, c *amxTile, acc int, cfg *byte) {
	if EmulatesAMX() {
		amxBlockGo(kn, a, aStride, rbs, b, nsb, c, acc)
		return
	}
	amxBlock(kn, a, aStride, rbs, b, nsb, c, acc, cfg)
}

// amxBlockGo computes what amxBlock (bf16_amd64.s) computes, in the
// order TDPBF16PS documents: for each row block r and sliver s, the
// 32×32 tile c[r·nsb+s] (acc: plus its old values) accumulates, per K step
// of 32 and per pair p, A[i][2p]·B[2p][j] then A[i][2p+1]·B[2p+1][j]
// (both products exact in float32). A step k of row block r lies at
// a + r·aStride + 2048·k bytes (32 rows of 32 bfloat16), B step k of
// sliver s at b[s] + 2048·k (16 pairs × 32 columns, k even in the low
// half of each uint32).
func amxBlockGo(kn int, a *uint16, aStride, rbs int, b *[bfGroup]*uint32, nsb int, c *amxTile, acc int) {
	emulatedBlocks.Add(1)
	tiles := unsafe.Slice(c, rbs*nsb)
	var t [bfTile][bfTile]float32
	for r := range rbs {
		for s := range nsb {
			d := &tiles[r*nsb+s]
			base := *(*unsafe.Pointer)(unsafe.Pointer(&d.p)) // heap memory the caller keeps alive
			row := func(i int) []float32 { return unsafe.Slice((*float32)(unsafe.Add(base, i*d.ld)), bfTile) }
			for i := range bfTile {
				if acc != 0 {
					copy(t[i][:], row(i))
				} else {
					t[i] = [bfTile]float32{}
				}
			}
			for k := range kn {
				as := unsafe.Slice((*uint16)(unsafe.Add(unsafe.Pointer(a), r*aStride+2048*k)), bfTile*bfTile)
				bs := unsafe.Slice((*uint32)(unsafe.Add(unsafe.Pointer(b[s]), 2048*k)), bfTile*bfTile/2)
				for i := range bfTile {
					ai := as[i*bfTile:]
					for j := range bfTile {
						sum := t[i][j]
						for p := range bfTile / 2 {
							w := bs[p*bfTile+j]
							sum += FromBF16(ai[2*p]) * FromBF16(uint16(w))
							sum += FromBF16(ai[2*p+1]) * FromBF16(uint16(w>>16))
						}
						t[i][j] = sum
					}
				}
			}
			for i := range bfTile {
				copy(row(i), t[i][:])
			}
		}
	}
}
