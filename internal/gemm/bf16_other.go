//go:build !amd64 || purego

package gemm

const haveBF16Asm = false

func amxBlock(kn int, a *uint16, aStride, rbs int, b *[bfGroup]*uint32, nsb int, c *amxTile, acc int, cfg *byte) {
	panic(ErrNoBF16)
}

func bf16PackPairs(dst *uint32, r0, r1 *float32, ld, kp int, m0, m1 uint64) { panic(ErrNoBF16) }

func bf16Row(dst *uint16, src *float32, n int) { panic(ErrNoBF16) }

func bf16RowSteps(dst *uint16, src *float32, k int) { panic(ErrNoBF16) }

func bf16BlockSteps(dst *uint16, src *float32, lda, rows, k int) { panic(ErrNoBF16) }

func dpbf16Kern16(ks int, a *uint16, b *uint32, c *float32, ldc int, add int) { panic(ErrNoBF16) }

func dpbf16Kern8x32(ks int, a *uint16, b *uint32, c *float32, ldc int, add int) { panic(ErrNoBF16) }

func dpbf16Kern8x24(ks int, a *uint16, b *uint32, c *float32, ldc int, add int) { panic(ErrNoBF16) }
func dpbf16Kern8x32P(ks int, a *uint16, b *uint32, c *float32, ldc int, add int, pf uintptr, pfStride int) {
	panic(ErrNoBF16)
}
func dpbf16Kern8x24P(ks int, a *uint16, b *uint32, c *float32, ldc int, add int, pf uintptr, pfStride int) {
	panic(ErrNoBF16)
}
func dpbf16Kern8x32R(ks int, a *uint16, b *uint32, c *float32, ldc int, add int, pf uintptr, pfStride int, rsrc *float32, rdst *uint16, rn, rrow int) {
	panic(ErrNoBF16)
}
func dpbf16Kern8x24R(ks int, a *uint16, b *uint32, c *float32, ldc int, add int, pf uintptr, pfStride int, rsrc *float32, rdst *uint16, rn, rrow int) {
	panic(ErrNoBF16)
}
func dpbf16Kern8x32R2(ks int, a *uint16, b *uint32, c *float32, ldc int, add int, pf uintptr, pfStride int, rsrc *float32, rdst *uint16, rn, rrow int) {
	panic(ErrNoBF16)
}
func dpbf16Kern8x24R2(ks int, a *uint16, b *uint32, c *float32, ldc int, add int, pf uintptr, pfStride int, rsrc *float32, rdst *uint16, rn, rrow int) {
	panic(ErrNoBF16)
}
func dpbf16Kern8x32E(ks int, a *uint16, b *uint32, c *float32, ldc int, bias, resid *float32, act int) {
	panic(ErrNoBF16)
}
func bf16RowContig(dst *uint16, src *float32, k int) { panic(ErrNoBF16) }
