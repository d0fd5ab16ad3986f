//go:build amd64 && !purego

#include "textflag.h"

// func maxPoolAVX512(y []float32, idx []int32, x []float32, rows, blocks []int32, blockBytes, tapBytes, rowBytes int, consts *[48]int32) bool
//
// Max-pools one channel x. Output row r (of rowBytes/4 values; y and idx
// advance by rowBytes after each) reads rows[] as: nA, nB, then nA+nB flat
// offsets of the input rows (d, h) its windows cover, in scan order, with
// nA-nB in {0, 1}. The first nA rows and the last nB rows are folded in two
// independent chains (hiding the compare latency), merged at the end.
// Each output row is split into blocks of 16 lanes (one lane per output
// w); a block descriptor in blocks[] is: output lane mask, then per kernel
// tap along w: the element offset of lane 0's tap from the row start, the
// two load masks of the 32 input elements from there and the mask of the
// lanes whose tap is inside the row. consts holds the lane index offsets
// (stride*j), the permutation picking lane j's element (stride*j) out of
// the 32 loaded ones, and MinInt32 ("no tap yet").
//
// Taps are folded in scan order with "v > best or v is NaN", the scalar
// rule, so ties keep the first maximum and NaN the last one; as every tap
// of the second chain comes after every tap of the first, the same rule
// merges them. best starts at -Inf with index MinInt32; the result is
// false when a lane kept it (a window of -Inf only), which the caller then
// redoes in Go.
TEXT ·maxPoolAVX512(SB), NOSPLIT, $0-153
	MOVQ y_base+0(FP), DI
	MOVQ idx_base+24(FP), R8
	MOVQ x_base+48(FP), SI
	MOVQ rows_base+72(FP), R9
	MOVQ rows_len+80(FP), R10
	LEAQ (R9)(R10*4), R10
	MOVQ R10, rows_len+80(FP) // now the end of rows
	MOVQ consts+144(FP), AX
	VMOVDQU32 (AX), Z30
	VMOVDQU32 64(AX), Z31
	VMOVDQU32 128(AX), Z28
	MOVL $0xff800000, AX
	VPBROADCASTD AX, Z29
	KXORW K7, K7, K7

row:
	CMPQ R9, rows_len+80(FP)
	JAE done
	MOVL (R9), CX
	MOVQ blocks_base+96(FP), R11
	XORQ R12, R12

block:
	VMOVAPS Z29, Z0
	VMOVDQA32 Z28, Z1
	VMOVAPS Z29, Z6
	VMOVDQA32 Z28, Z7
	LEAQ 8(R9), DX
	MOVL 4(R9), AX
	TESTQ AX, AX
	JZ single

pair:
	MOVLQSX (DX), R15
	VPBROADCASTD (DX), Z5
	LEAQ (SI)(R15*4), R15
	MOVLQSX (DX)(CX*4), R10
	VPBROADCASTD (DX)(CX*4), Z8
	LEAQ (SI)(R10*4), R10
	LEAQ 4(R11), R13
	MOVQ tapBytes+128(FP), R14
	ADDQ R13, R14

ptap:
	MOVLQSX (R13), BX
	KMOVW 4(R13), K1
	KMOVW 8(R13), K2
	KMOVW 12(R13), K3
	VMOVUPS.Z (R15)(BX*4), K1, Z2
	VMOVUPS.Z 64(R15)(BX*4), K2, Z3
	VPERMT2PS Z3, Z31, Z2
	VMOVUPS.Z (R10)(BX*4), K1, Z9
	VMOVUPS.Z 64(R10)(BX*4), K2, Z10
	VPERMT2PS Z10, Z31, Z9
	VCMPPS $0x1e, Z0, Z2, K3, K4
	VCMPPS $3, Z2, Z2, K3, K5
	KORW K4, K5, K4
	VMOVAPS Z2, K4, Z0
	VPADDD.BCST (R13), Z5, K4, Z1
	VCMPPS $0x1e, Z6, Z9, K3, K6
	VCMPPS $3, Z9, Z9, K3, K5
	KORW K6, K5, K6
	VMOVAPS Z9, K6, Z6
	VPADDD.BCST (R13), Z8, K6, Z7
	ADDQ $16, R13
	CMPQ R13, R14
	JNE ptap

	ADDQ $4, DX
	DECQ AX
	JNZ pair

single:
	MOVL 4(R9), AX
	CMPQ CX, AX
	JEQ merge
	MOVLQSX (DX), R15
	VPBROADCASTD (DX), Z5
	LEAQ (SI)(R15*4), R15
	LEAQ 4(R11), R13
	MOVQ tapBytes+128(FP), R14
	ADDQ R13, R14

stap:
	MOVLQSX (R13), BX
	KMOVW 4(R13), K1
	KMOVW 8(R13), K2
	KMOVW 12(R13), K3
	VMOVUPS.Z (R15)(BX*4), K1, Z2
	VMOVUPS.Z 64(R15)(BX*4), K2, Z3
	VPERMT2PS Z3, Z31, Z2
	VCMPPS $0x1e, Z0, Z2, K3, K4
	VCMPPS $3, Z2, Z2, K3, K5
	KORW K4, K5, K4
	VMOVAPS Z2, K4, Z0
	VPADDD.BCST (R13), Z5, K4, Z1
	ADDQ $16, R13
	CMPQ R13, R14
	JNE stap

merge:
	VCMPPS $0x1e, Z0, Z6, K4
	VCMPPS $3, Z6, Z6, K5
	KORW K4, K5, K4
	VMOVAPS Z6, K4, Z0
	VMOVDQA32 Z7, K4, Z1
	KMOVW (R11), K1
	VPCMPEQD Z28, Z1, K1, K2
	KORW K2, K7, K7
	VPADDD Z30, Z1, Z1
	VMOVUPS Z0, K1, (DI)(R12*1)
	VMOVDQU32 Z1, K1, (R8)(R12*1)
	ADDQ tapBytes+128(FP), R11
	ADDQ $4, R11
	ADDQ $64, R12
	CMPQ R12, blockBytes+120(FP)
	JB block

	MOVL 4(R9), AX
	ADDQ CX, AX
	LEAQ 8(R9)(AX*4), R9
	ADDQ rowBytes+136(FP), DI
	ADDQ rowBytes+136(FP), R8
	JMP row

done:
	KORTESTW K7, K7
	SETEQ ret+152(FP)
	VZEROUPPER
	RET

// func addRowAVX512(dst, src []float32)
//
// dst[i] += src[i] for i < len(dst) (src at least as long), the tail
// under a lane mask.
TEXT ·addRowAVX512(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	CMPQ CX, $16
	JB addtail

addloop:
	VMOVUPS (SI), Z0
	VADDPS (DI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	CMPQ CX, $16
	JAE addloop

addtail:
	TESTQ CX, CX
	JZ adddone
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DI), K1, Z1
	VADDPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)

adddone:
	VZEROUPPER
	RET
