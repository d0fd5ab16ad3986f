//go:build amd64 && !purego

package gemm

//go:generate go run asm/gen_dpbf16.go asm/gelu.go

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

// dpbf16Kern8x32R is dpbf16Kern8x32P that also rounds the next A block
// while the products run, up to one group of 32 floats per K step: rn
// groups read from rsrc on (contiguous), each rounded to bfloat16 into
// 64 bytes at rdst, rdst then advancing a K step (2048 bytes); after
// rrow groups, and then after every ks, rdst moves to the next row of
// the packed block (see bfRowsA.block). The conversion's port is not
// the products', so the rounding costs the kernel little, where
// packABlock between kernels cost 4–5 % of a ViT-B/16 pass.
//
//go:noescape
func dpbf16Kern8x32R(ks int, a *uint16, b *uint32, c *float32, ldc int, add int, pf uintptr, pfStride int, rsrc *float32, rdst *uint16, rn, rrow int)

// dpbf16Kern8x24R is dpbf16Kern8x24P with dpbf16Kern8x32R's rounding.
//
//go:noescape
func dpbf16Kern8x24R(ks int, a *uint16, b *uint32, c *float32, ldc int, add int, pf uintptr, pfStride int, rsrc *float32, rdst *uint16, rn, rrow int)

// dpbf16Kern8x32R2 is dpbf16Kern8x32R rounding up to two groups per K
// step: a block's last calls round with it the rows the one-group calls
// before them leave (5 of 32 at 7 slivers).
//
//go:noescape
func dpbf16Kern8x32R2(ks int, a *uint16, b *uint32, c *float32, ldc int, add int, pf uintptr, pfStride int, rsrc *float32, rdst *uint16, rn, rrow int)

// dpbf16Kern8x24R2 is dpbf16Kern8x24R with dpbf16Kern8x32R2's rounding.
//
//go:noescape
func dpbf16Kern8x24R2(ks int, a *uint16, b *uint32, c *float32, ldc int, add int, pf uintptr, pfStride int, rsrc *float32, rdst *uint16, rn, rrow int)

// dpbf16Kern8x32E is dpbf16Kern8x32 storing its tile with the fused
// epilogue applied in registers (what epilogueTileAVX512 does to the
// stored tile, same bits): + 0, + bias (32 floats, if not nil), + the
// residual (rows ldc apart, if not nil), then act (an Activation).
//
//go:noescape
func dpbf16Kern8x32E(ks int, a *uint16, b *uint32, c *float32, ldc int, bias, resid *float32, act int)
