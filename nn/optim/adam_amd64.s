//go:build amd64 && !purego

#include "textflag.h"

// Both kernels compute, per element (same operation order and rounding as
// adamGo, no fused multiply-adds):
//
//	p' = p·decay (decoupled)            or  g' = g + wd·p (L2)
//	m  = β1·m + (1-β1)·g'
//	v  = β2·v + ((1-β2)·g')·g'
//	p  = p' - step·(m / (√v/√bc2 + ε))
//
// over len(p) elements (a multiple of the vector width). The constants come
// from an adamK: b1 0, b2 4, c1 8, c2 12, step 16, sbc2 20, eps 24, wd 28,
// decay 32, decoupled 36.

// ADAM_TAIL finishes one vector: P holds p', G holds g'; M and V are loaded
// from (R8) and (R9), updated and stored, and the new p stored at (DI).
#define ADAM_TAIL(P, G, M, V, T, B1, B2, C1, C2, STEP, SBC2, EPS) \
	VMOVUPS (R8), M \
	VMOVUPS (R9), V \
	VMULPS B1, M, M \
	VMULPS C1, G, T \
	VADDPS T, M, M \
	VMULPS B2, V, V \
	VMULPS C2, G, T \
	VMULPS G, T, T \
	VADDPS T, V, V \
	VMOVUPS M, (R8) \
	VMOVUPS V, (R9) \
	VSQRTPS V, T \
	VDIVPS SBC2, T, T \
	VADDPS EPS, T, T \
	VDIVPS T, M, T \
	VMULPS STEP, T, T \
	VSUBPS T, P, P \
	VMOVUPS P, (DI)

// func adamAVX512(p, g, m, v []float32, k *adamK)
TEXT ·adamAVX512(SB), NOSPLIT, $0-104
	MOVQ p_base+0(FP), DI
	MOVQ p_len+8(FP), CX
	MOVQ g_base+24(FP), SI
	MOVQ m_base+48(FP), R8
	MOVQ v_base+72(FP), R9
	MOVQ k+96(FP), AX
	VBROADCASTSS 0(AX), Z20
	VBROADCASTSS 4(AX), Z21
	VBROADCASTSS 8(AX), Z22
	VBROADCASTSS 12(AX), Z23
	VBROADCASTSS 16(AX), Z24
	VBROADCASTSS 20(AX), Z25
	VBROADCASTSS 24(AX), Z26
	VBROADCASTSS 28(AX), Z27
	VBROADCASTSS 32(AX), Z28
	MOVL 36(AX), BX
	SHRQ $4, CX
	JZ done512
	TESTL BX, BX
	JNZ dec512

l2_512:
	VMOVUPS (DI), Z0
	VMOVUPS (SI), Z1
	VMULPS Z27, Z0, Z4
	VADDPS Z4, Z1, Z1
	ADAM_TAIL(Z0, Z1, Z2, Z3, Z4, Z20, Z21, Z22, Z23, Z24, Z25, Z26)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ l2_512
	JMP done512

dec512:
	VMOVUPS (DI), Z0
	VMOVUPS (SI), Z1
	VMULPS Z28, Z0, Z0
	ADAM_TAIL(Z0, Z1, Z2, Z3, Z4, Z20, Z21, Z22, Z23, Z24, Z25, Z26)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ dec512

done512:
	VZEROUPPER
	RET

// func adamAVX2(p, g, m, v []float32, k *adamK)
TEXT ·adamAVX2(SB), NOSPLIT, $0-104
	MOVQ p_base+0(FP), DI
	MOVQ p_len+8(FP), CX
	MOVQ g_base+24(FP), SI
	MOVQ m_base+48(FP), R8
	MOVQ v_base+72(FP), R9
	MOVQ k+96(FP), AX
	VBROADCASTSS 0(AX), Y8
	VBROADCASTSS 4(AX), Y9
	VBROADCASTSS 8(AX), Y10
	VBROADCASTSS 12(AX), Y11
	VBROADCASTSS 16(AX), Y12
	VBROADCASTSS 20(AX), Y13
	VBROADCASTSS 24(AX), Y14
	MOVL 36(AX), BX
	SHRQ $3, CX
	JZ done256
	TESTL BX, BX
	JNZ dec256
	VBROADCASTSS 28(AX), Y15

l2_256:
	VMOVUPS (DI), Y0
	VMOVUPS (SI), Y1
	VMULPS Y15, Y0, Y4
	VADDPS Y4, Y1, Y1
	ADAM_TAIL(Y0, Y1, Y2, Y3, Y4, Y8, Y9, Y10, Y11, Y12, Y13, Y14)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ l2_256
	JMP done256

dec256:
	VBROADCASTSS 32(AX), Y15

dec256loop:
	VMOVUPS (DI), Y0
	VMOVUPS (SI), Y1
	VMULPS Y15, Y0, Y0
	ADAM_TAIL(Y0, Y1, Y2, Y3, Y4, Y8, Y9, Y10, Y11, Y12, Y13, Y14)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ dec256loop

done256:
	VZEROUPPER
	RET
