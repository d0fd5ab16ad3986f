//go:build amd64 && !purego

#include "textflag.h"

// func directKern8x48(a, b *float32, offs *int, ntaps, icg, ldb int, c *float32, acc int)
//
// c[r*48+j] = sum over channels i and taps t of a[(i*ntaps+t)*8+r] * b[i*ldb/4 + offs[t]/4 + j]
// (plus the old c when acc != 0) for r < 8, j < 48: an 8-output-channel by 48-position tile of a direct
// convolution, accumulated over every input channel and tap in Z0-Z23.
// Channels are the outer loop so that the taps of one channel, which read
// overlapping rows of a few pages, run back to back (L1 and TLB friendly).
TEXT ·directKern8x48(SB), NOSPLIT, $0-64
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ offs+16(FP), R8
	MOVQ ntaps+24(FP), R9
	MOVQ icg+32(FP), R10
	MOVQ ldb+40(FP), R11
	MOVQ c+48(FP), R12
	MOVQ acc+56(FP), AX
	TESTQ AX, AX
	JNZ load
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	JMP ic
load:
	VMOVUPS 0(R12), Z0
	VMOVUPS 64(R12), Z1
	VMOVUPS 128(R12), Z2
	VMOVUPS 192(R12), Z3
	VMOVUPS 256(R12), Z4
	VMOVUPS 320(R12), Z5
	VMOVUPS 384(R12), Z6
	VMOVUPS 448(R12), Z7
	VMOVUPS 512(R12), Z8
	VMOVUPS 576(R12), Z9
	VMOVUPS 640(R12), Z10
	VMOVUPS 704(R12), Z11
	VMOVUPS 768(R12), Z12
	VMOVUPS 832(R12), Z13
	VMOVUPS 896(R12), Z14
	VMOVUPS 960(R12), Z15
	VMOVUPS 1024(R12), Z16
	VMOVUPS 1088(R12), Z17
	VMOVUPS 1152(R12), Z18
	VMOVUPS 1216(R12), Z19
	VMOVUPS 1280(R12), Z20
	VMOVUPS 1344(R12), Z21
	VMOVUPS 1408(R12), Z22
	VMOVUPS 1472(R12), Z23
ic:
	XORQ CX, CX
tap:
	MOVQ (R8)(CX*8), AX
	ADDQ DI, AX
	VMOVUPS (AX), Z24
	VMOVUPS 64(AX), Z25
	VMOVUPS 128(AX), Z26
	VBROADCASTSS 0(SI), Z27
	VFMADD231PS Z24, Z27, Z0
	VFMADD231PS Z25, Z27, Z1
	VFMADD231PS Z26, Z27, Z2
	VBROADCASTSS 4(SI), Z28
	VFMADD231PS Z24, Z28, Z3
	VFMADD231PS Z25, Z28, Z4
	VFMADD231PS Z26, Z28, Z5
	VBROADCASTSS 8(SI), Z29
	VFMADD231PS Z24, Z29, Z6
	VFMADD231PS Z25, Z29, Z7
	VFMADD231PS Z26, Z29, Z8
	VBROADCASTSS 12(SI), Z30
	VFMADD231PS Z24, Z30, Z9
	VFMADD231PS Z25, Z30, Z10
	VFMADD231PS Z26, Z30, Z11
	VBROADCASTSS 16(SI), Z31
	VFMADD231PS Z24, Z31, Z12
	VFMADD231PS Z25, Z31, Z13
	VFMADD231PS Z26, Z31, Z14
	VBROADCASTSS 20(SI), Z27
	VFMADD231PS Z24, Z27, Z15
	VFMADD231PS Z25, Z27, Z16
	VFMADD231PS Z26, Z27, Z17
	VBROADCASTSS 24(SI), Z28
	VFMADD231PS Z24, Z28, Z18
	VFMADD231PS Z25, Z28, Z19
	VFMADD231PS Z26, Z28, Z20
	VBROADCASTSS 28(SI), Z29
	VFMADD231PS Z24, Z29, Z21
	VFMADD231PS Z25, Z29, Z22
	VFMADD231PS Z26, Z29, Z23
	ADDQ $32, SI
	INCQ CX
	CMPQ CX, R9
	JLT tap
	ADDQ R11, DI
	DECQ R10
	JNZ ic
	VMOVUPS Z0, 0(R12)
	VMOVUPS Z1, 64(R12)
	VMOVUPS Z2, 128(R12)
	VMOVUPS Z3, 192(R12)
	VMOVUPS Z4, 256(R12)
	VMOVUPS Z5, 320(R12)
	VMOVUPS Z6, 384(R12)
	VMOVUPS Z7, 448(R12)
	VMOVUPS Z8, 512(R12)
	VMOVUPS Z9, 576(R12)
	VMOVUPS Z10, 640(R12)
	VMOVUPS Z11, 704(R12)
	VMOVUPS Z12, 768(R12)
	VMOVUPS Z13, 832(R12)
	VMOVUPS Z14, 896(R12)
	VMOVUPS Z15, 960(R12)
	VMOVUPS Z16, 1024(R12)
	VMOVUPS Z17, 1088(R12)
	VMOVUPS Z18, 1152(R12)
	VMOVUPS Z19, 1216(R12)
	VMOVUPS Z20, 1280(R12)
	VMOVUPS Z21, 1344(R12)
	VMOVUPS Z22, 1408(R12)
	VMOVUPS Z23, 1472(R12)
	VZEROUPPER
	RET

// deint2Idx holds the permutation indexes of deint2: the even floats of a
// 16-float vector, then the odd ones.
DATA deint2Idx<>+0(SB)/4, $0
DATA deint2Idx<>+4(SB)/4, $2
DATA deint2Idx<>+8(SB)/4, $4
DATA deint2Idx<>+12(SB)/4, $6
DATA deint2Idx<>+16(SB)/4, $8
DATA deint2Idx<>+20(SB)/4, $10
DATA deint2Idx<>+24(SB)/4, $12
DATA deint2Idx<>+28(SB)/4, $14
DATA deint2Idx<>+32(SB)/4, $1
DATA deint2Idx<>+36(SB)/4, $3
DATA deint2Idx<>+40(SB)/4, $5
DATA deint2Idx<>+44(SB)/4, $7
DATA deint2Idx<>+48(SB)/4, $9
DATA deint2Idx<>+52(SB)/4, $11
DATA deint2Idx<>+56(SB)/4, $13
DATA deint2Idx<>+60(SB)/4, $15
GLOBL deint2Idx<>(SB), RODATA|NOPTR, $64

// func deint2(src *float32, n int, even, odd *float32)
//
// even[i] = src[2i] for i < (n+1)/2 and odd[i] = src[2i+1] for i < n/2:
// one input row split into its two stride-2 phases, 16 floats at a time,
// the last partial vector under masks (nothing outside is read or written).
TEXT ·deint2(SB), NOSPLIT, $0-32
	MOVQ src+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ even+16(FP), DI
	MOVQ odd+24(FP), DX
	VMOVUPS deint2Idx<>(SB), Z30
	VSHUFF32X4 $0x4e, Z30, Z30, Z31 // odd indexes in the low half
loop16:
	CMPQ CX, $16
	JLT tail
	VMOVUPS (SI), Z0
	VPERMPS Z0, Z30, Z1
	VPERMPS Z0, Z31, Z2
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, (DX)
	ADDQ $64, SI
	ADDQ $32, DI
	ADDQ $32, DX
	SUBQ $16, CX
	JMP loop16
tail:
	TESTQ CX, CX
	JZ done
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VPERMPS Z0, Z30, Z1
	VPERMPS Z0, Z31, Z2
	MOVQ CX, R8
	INCQ CX
	SHRQ $1, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K2
	VMOVUPS Y1, K2, (DI)
	MOVQ R8, CX
	SHRQ $1, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K3
	VMOVUPS Y2, K3, (DX)
done:
	VZEROUPPER
	RET

// func addRow(dst, src *float32, n int, b float32)
//
// dst[i] = src[i] + b for i < n, 16 floats at a time and the rest under a
// mask: the direct kernels' store of one contiguous run of outputs.
TEXT ·addRow(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS b+24(FP), Z31
loop16:
	CMPQ CX, $16
	JLT tail
	VADDPS (SI), Z31, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP loop16
tail:
	TESTQ CX, CX
	JZ done
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VADDPS Z0, Z31, Z0
	VMOVUPS Z0, K1, (DI)
done:
	VZEROUPPER
	RET
