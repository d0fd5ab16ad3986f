//go:build amd64 && !purego

#include "textflag.h"

// func dwKern(xp *float32, offs *int, w *float32, ntaps int, out *float32, n int)
//
// out[q] = sum_t w[t] * xp[offs[t]/4 + q] for q < n (a multiple of 16): the
// depthwise convolution of one channel on its padded grid. Eight 16-float
// accumulators run in parallel over 128 positions, then 16 at a time.
TEXT ·dwKern(SB), NOSPLIT, $0-48
	MOVQ xp+0(FP), DI
	MOVQ offs+8(FP), R8
	MOVQ w+16(FP), R9
	MOVQ ntaps+24(FP), R10
	MOVQ out+32(FP), R11
	MOVQ n+40(FP), R12
block128:
	CMPQ R12, $128
	JLT block16
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	XORQ CX, CX
tap128:
	MOVQ (R8)(CX*8), AX
	ADDQ DI, AX
	VBROADCASTSS (R9)(CX*4), Z16
	VFMADD231PS 0(AX), Z16, Z0
	VFMADD231PS 64(AX), Z16, Z1
	VFMADD231PS 128(AX), Z16, Z2
	VFMADD231PS 192(AX), Z16, Z3
	VFMADD231PS 256(AX), Z16, Z4
	VFMADD231PS 320(AX), Z16, Z5
	VFMADD231PS 384(AX), Z16, Z6
	VFMADD231PS 448(AX), Z16, Z7
	INCQ CX
	CMPQ CX, R10
	JLT tap128
	VMOVUPS Z0, 0(R11)
	VMOVUPS Z1, 64(R11)
	VMOVUPS Z2, 128(R11)
	VMOVUPS Z3, 192(R11)
	VMOVUPS Z4, 256(R11)
	VMOVUPS Z5, 320(R11)
	VMOVUPS Z6, 384(R11)
	VMOVUPS Z7, 448(R11)
	ADDQ $512, DI
	ADDQ $512, R11
	SUBQ $128, R12
	JMP block128
block16:
	CMPQ R12, $16
	JLT done
	VPXORD Z0, Z0, Z0
	XORQ CX, CX
tap16:
	MOVQ (R8)(CX*8), AX
	ADDQ DI, AX
	VBROADCASTSS (R9)(CX*4), Z16
	VFMADD231PS (AX), Z16, Z0
	INCQ CX
	CMPQ CX, R10
	JLT tap16
	VMOVUPS Z0, (R11)
	ADDQ $64, DI
	ADDQ $64, R11
	SUBQ $16, R12
	JMP block16
done:
	VZEROUPPER
	RET

// func dwDots(xp *float32, offs *int, ntaps int, grad *float32, n int, out *float32)
//
// out[t] += sum_q grad[q] * xp[offs[t]/4 + q] for q < n (a multiple of 64): the
// depthwise weight gradient of one channel on its padded grid.
TEXT ·dwDots(SB), NOSPLIT, $0-48
	MOVQ xp+0(FP), DI
	MOVQ offs+8(FP), R8
	MOVQ ntaps+16(FP), R10
	MOVQ grad+24(FP), R9
	MOVQ n+32(FP), R12
	MOVQ out+40(FP), R11
	SHRQ $6, R12
	XORQ CX, CX
dtap:
	MOVQ (R8)(CX*8), AX
	ADDQ DI, AX
	MOVQ R9, BX
	MOVQ R12, DX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
dloop:
	VMOVUPS 0(BX), Z8
	VFMADD231PS 0(AX), Z8, Z0
	VMOVUPS 64(BX), Z9
	VFMADD231PS 64(AX), Z9, Z1
	VMOVUPS 128(BX), Z10
	VFMADD231PS 128(AX), Z10, Z2
	VMOVUPS 192(BX), Z11
	VFMADD231PS 192(AX), Z11, Z3
	ADDQ $256, AX
	ADDQ $256, BX
	DECQ DX
	JNZ dloop
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	ADDSS (R11)(CX*4), X0
	MOVSS X0, (R11)(CX*4)
	INCQ CX
	CMPQ CX, R10
	JLT dtap
	VZEROUPPER
	RET
