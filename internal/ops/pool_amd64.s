//go:build amd64 && !purego

#include "textflag.h"

// func maxPoolAVX512(y []float32, idx []int32, x []float32, rows, blocks []int32, blockBytes, tapBytes, rowBytes int, consts *[48]int32) bool
//
// Max-pools one channel x. Output row r (of rowBytes/4 values, y and idx
// advance by rowBytes after each) reads rows[] as: count, then count flat
// offsets of the input rows (d, h) its window covers, in scan order. Each
// output row is split into blocks of 16 lanes (one lane per output w); a
// block descriptor in blocks[] is: output lane mask, then per kernel tap
// along w: the element offset of lane 0's tap from the row start, the two
// load masks of the 32 input elements from there and the mask of the lanes
// whose tap is inside the row. consts holds the lane index offsets
// (stride*j), the permutation picking lane j's element (stride*j) out of
// the 32 loaded ones, and MinInt32 ("no tap yet").
//
// Taps are folded in scan order with "v > best or v is NaN", the scalar
// rule, so ties keep the first maximum and NaN the last one. best starts
// at -Inf with index MinInt32; the result is false when a lane kept it
// (a window of -Inf only), which the caller then redoes in Go.
TEXT ·maxPoolAVX512(SB), NOSPLIT, $0-153
	MOVQ y_base+0(FP), DI
	MOVQ idx_base+24(FP), R8
	MOVQ x_base+48(FP), SI
	MOVQ rows_base+72(FP), R9
	MOVQ rows_len+80(FP), R10
	LEAQ (R9)(R10*4), R10
	MOVQ consts+144(FP), AX
	VMOVDQU32 (AX), Z30
	VMOVDQU32 64(AX), Z31
	VMOVDQU32 128(AX), Z28
	MOVL $0xff800000, AX
	VPBROADCASTD AX, Z29
	KXORW K7, K7, K7

row:
	CMPQ R9, R10
	JAE done
	MOVL (R9), CX
	ADDQ $4, R9
	MOVQ blocks_base+96(FP), R11
	XORQ R12, R12

block:
	VMOVAPS Z29, Z0
	VMOVDQA32 Z28, Z1
	MOVQ R9, DX
	MOVQ CX, AX
	TESTQ AX, AX
	JZ store

taprow:
	MOVLQSX (DX), R15
	LEAQ 4(R11), R13
	MOVQ tapBytes+128(FP), R14
	ADDQ R13, R14

tap:
	MOVLQSX (R13), BX
	KMOVW 4(R13), K1
	KMOVW 8(R13), K2
	KMOVW 12(R13), K3
	ADDQ R15, BX
	VMOVUPS.Z (SI)(BX*4), K1, Z2
	VMOVUPS.Z 64(SI)(BX*4), K2, Z3
	VPERMT2PS Z3, Z31, Z2
	VCMPPS $0x1e, Z0, Z2, K3, K4
	VCMPPS $3, Z2, Z2, K3, K5
	KORW K4, K5, K4
	VMOVAPS Z2, K4, Z0
	VPBROADCASTD BX, K4, Z1
	ADDQ $16, R13
	CMPQ R13, R14
	JNE tap

	ADDQ $4, DX
	DECQ AX
	JNZ taprow

store:
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

	LEAQ (R9)(CX*4), R9
	ADDQ rowBytes+136(FP), DI
	ADDQ rowBytes+136(FP), R8
	JMP row

done:
	KORTESTW K7, K7
	SETEQ ret+152(FP)
	VZEROUPPER
	RET
