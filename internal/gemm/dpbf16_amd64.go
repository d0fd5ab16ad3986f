//go:build amd64 && !purego

package gemm

//go:generate go run asm/gen_dpbf16.go

// dpbf16Kern16 multiplies a 16-row half block of packed A by a 16-column
// half sliver of packed B over ks K steps with VDPBF16PS (AVX512_BF16),
// storing (add = 0) or adding the 16×16 tile to c (dpbf16_amd64.s).
//
//go:noescape
func dpbf16Kern16(ks int, a *uint16, b *uint32, c *float32, ldc int, add int)

// dpbf16Kern8x32 is the 8-row × 32-column variant: a quarter block of A by
// a whole B sliver, each broadcast A pair used for both 16-column halves
// (dpbf16_amd64.s).
//
//go:noescape
func dpbf16Kern8x32(ks int, a *uint16, b *uint32, c *float32, ldc int, add int)

// dpbf16Kern8x24 is dpbf16Kern8x32 for the first 24 columns only (its
// second half a Y register), for a last sliver of at most 24 columns.
//
//go:noescape
func dpbf16Kern8x24(ks int, a *uint16, b *uint32, c *float32, ldc int, add int)

// dpbf16Kern8x32P is dpbf16Kern8x32 that also asks for three cache lines
// at pf into L2 per K step, pf advancing pfStride bytes a step: the next
// block of float32 weights arrives while the products run (the address
// is only prefetched, never read, so it needs no Go pointer).
//
//go:noescape
func dpbf16Kern8x32P(ks int, a *uint16, b *uint32, c *float32, ldc int, add int, pf uintptr, pfStride int)

// dpbf16Kern8x24P is dpbf16Kern8x24 with dpbf16Kern8x32P's prefetch.
//
//go:noescape
func dpbf16Kern8x24P(ks int, a *uint16, b *uint32, c *float32, ldc int, add int, pf uintptr, pfStride int)
