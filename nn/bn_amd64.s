//go:build amd64 && !purego

#include "textflag.h"

// Vector versions of the kernels in bn_kern.go; see there for the
// canonical reduction order and rounding that both levels reproduce.
// Reductions cover whole blocks of 256 values, elementwise kernels whole
// vectors; the Go callers finish the tails. No fused multiply-adds.

// FOLD8 folds the 8 lanes of Y (low half X) into lane 0 of X in the order
// (l+4), (l+2), (l+1); T is a scratch register.
#define FOLD8(Y, X, T) \
	VEXTRACTF128 $1, Y, T \
	VADDPS T, X, X \
	VPERMILPS $0x0E, X, T \
	VADDPS T, X, X \
	VPERMILPS $0x01, X, T \
	VADDSS T, X, X

// FOLD16 folds the 16 lanes of Z (halves Y, X) into lane 0 of X and adds
// it, widened to float64, to ACC.
#define FOLD16(Z, Y, X, T, TY, ACC) \
	VEXTRACTF32X8 $1, Z, TY \
	VADDPS TY, Y, Y \
	FOLD8(Y, X, T) \
	VCVTSS2SD X, X, X \
	VADDSD X, ACC, ACC

// ADD8TO64 folds Y's 8 lanes (after the l+8 step) and adds lane 0 to ACC.
#define ADD8TO64(Y, X, T, ACC) \
	FOLD8(Y, X, T) \
	VCVTSS2SD X, X, X \
	VADDSD X, ACC, ACC

// func sumAVX512(v []float32, shift float32, sq bool) float64
TEXT ·sumAVX512(SB), NOSPLIT, $0-40
	MOVQ v_base+0(FP), SI
	MOVQ v_len+8(FP), CX
	VBROADCASTSS shift+24(FP), Z31
	MOVBQZX sq+28(FP), BX
	VXORPD X10, X10, X10
	SHRQ $8, CX
	JZ sum512done

sum512block:
	VXORPS Z0, Z0, Z0
	MOVQ $16, DX
	TESTQ BX, BX
	JNZ sum512sq

sum512plain:
	VADDPS (SI), Z0, Z0
	ADDQ $64, SI
	DECQ DX
	JNZ sum512plain
	JMP sum512fold

sum512sq:
	VMOVUPS (SI), Z1
	VSUBPS Z31, Z1, Z1
	VMULPS Z1, Z1, Z1
	VADDPS Z1, Z0, Z0
	ADDQ $64, SI
	DECQ DX
	JNZ sum512sq

sum512fold:
	FOLD16(Z0, Y0, X0, X1, Y1, X10)
	DECQ CX
	JNZ sum512block

sum512done:
	VMOVSD X10, ret+32(FP)
	VZEROUPPER
	RET

// func sumAVX2(v []float32, shift float32, sq bool) float64
TEXT ·sumAVX2(SB), NOSPLIT, $0-40
	MOVQ v_base+0(FP), SI
	MOVQ v_len+8(FP), CX
	VBROADCASTSS shift+24(FP), Y15
	MOVBQZX sq+28(FP), BX
	VXORPD X10, X10, X10
	SHRQ $8, CX
	JZ sum256done

sum256block:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	MOVQ $16, DX
	TESTQ BX, BX
	JNZ sum256sq

sum256plain:
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	ADDQ $64, SI
	DECQ DX
	JNZ sum256plain
	JMP sum256fold

sum256sq:
	VMOVUPS (SI), Y2
	VMOVUPS 32(SI), Y3
	VSUBPS Y15, Y2, Y2
	VSUBPS Y15, Y3, Y3
	VMULPS Y2, Y2, Y2
	VMULPS Y3, Y3, Y3
	VADDPS Y2, Y0, Y0
	VADDPS Y3, Y1, Y1
	ADDQ $64, SI
	DECQ DX
	JNZ sum256sq

sum256fold:
	VADDPS Y1, Y0, Y0
	ADD8TO64(Y0, X0, X1, X10)
	DECQ CX
	JNZ sum256block

sum256done:
	VMOVSD X10, ret+32(FP)
	VZEROUPPER
	RET

// func dotAVX512(dy, x, y []float32, mu float32, masked bool) (sd, sdx float64)
TEXT ·dotAVX512(SB), NOSPLIT, $0-96
	MOVQ dy_base+0(FP), SI
	MOVQ dy_len+8(FP), CX
	MOVQ x_base+24(FP), DI
	MOVQ y_base+48(FP), R8
	VBROADCASTSS mu+72(FP), Z31
	MOVBQZX masked+76(FP), BX
	VXORPD X10, X10, X10
	VXORPD X11, X11, X11
	SHRQ $8, CX
	JZ dot512done

dot512block:
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	MOVQ $16, DX

dot512loop:
	VMOVUPS (SI), Z2
	TESTQ BX, BX
	JZ dot512nomask
	VMOVUPS (R8), Z3
	VPTESTMD Z3, Z3, K1
	VMOVAPS.Z Z2, K1, Z2
	ADDQ $64, R8

dot512nomask:
	VADDPS Z2, Z0, Z0
	VMOVUPS (DI), Z4
	VSUBPS Z31, Z4, Z4
	VMULPS Z4, Z2, Z4
	VADDPS Z4, Z1, Z1
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ DX
	JNZ dot512loop
	FOLD16(Z0, Y0, X0, X5, Y5, X10)
	FOLD16(Z1, Y1, X1, X5, Y5, X11)
	DECQ CX
	JNZ dot512block

dot512done:
	VMOVSD X10, sd+80(FP)
	VMOVSD X11, sdx+88(FP)
	VZEROUPPER
	RET

// func dotAVX2(dy, x, y []float32, mu float32, masked bool) (sd, sdx float64)
TEXT ·dotAVX2(SB), NOSPLIT, $0-96
	MOVQ dy_base+0(FP), SI
	MOVQ dy_len+8(FP), CX
	MOVQ x_base+24(FP), DI
	MOVQ y_base+48(FP), R8
	VBROADCASTSS mu+72(FP), Y15
	MOVBQZX masked+76(FP), BX
	VXORPS Y14, Y14, Y14
	VXORPD X10, X10, X10
	VXORPD X11, X11, X11
	SHRQ $8, CX
	JZ dot256done

dot256block:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ $16, DX

dot256loop:
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	TESTQ BX, BX
	JZ dot256nomask
	VMOVUPS (R8), Y6
	VMOVUPS 32(R8), Y7
	VPCMPEQD Y14, Y6, Y6
	VPCMPEQD Y14, Y7, Y7
	VANDNPS Y4, Y6, Y4
	VANDNPS Y5, Y7, Y5
	ADDQ $64, R8

dot256nomask:
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y2, Y2
	VMOVUPS (DI), Y6
	VMOVUPS 32(DI), Y7
	VSUBPS Y15, Y6, Y6
	VSUBPS Y15, Y7, Y7
	VMULPS Y6, Y4, Y6
	VMULPS Y7, Y5, Y7
	VADDPS Y6, Y1, Y1
	VADDPS Y7, Y3, Y3
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ DX
	JNZ dot256loop
	VADDPS Y2, Y0, Y0
	VADDPS Y3, Y1, Y1
	ADD8TO64(Y0, X0, X5, X10)
	ADD8TO64(Y1, X1, X5, X11)
	DECQ CX
	JNZ dot256block

dot256done:
	VMOVSD X10, sd+80(FP)
	VMOVSD X11, sdx+88(FP)
	VZEROUPPER
	RET

// func applyAVX512(dst, src, r []float32, a, b float32, relu bool)
TEXT ·applyAVX512(SB), NOSPLIT, $0-81
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	MOVQ r_base+48(FP), R8
	MOVQ r_len+56(FP), R9
	VBROADCASTSS a+72(FP), Z30
	VBROADCASTSS b+76(FP), Z31
	MOVBQZX relu+80(FP), BX
	VXORPS Z29, Z29, Z29
	SHRQ $4, CX
	JZ app512done

app512loop:
	VMULPS (SI), Z30, Z0
	VADDPS Z31, Z0, Z0
	TESTQ R9, R9
	JZ app512nores
	VADDPS (R8), Z0, Z0
	ADDQ $64, R8

app512nores:
	TESTQ BX, BX
	JZ app512store
	VCMPPS $3, Z0, Z0, K1
	VMAXPS Z29, Z0, Z1
	VMOVAPS Z0, K1, Z1
	VMOVAPS Z1, Z0

app512store:
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ app512loop

app512done:
	VZEROUPPER
	RET

// func applyAVX2(dst, src, r []float32, a, b float32, relu bool)
TEXT ·applyAVX2(SB), NOSPLIT, $0-81
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	MOVQ r_base+48(FP), R8
	MOVQ r_len+56(FP), R9
	VBROADCASTSS a+72(FP), Y14
	VBROADCASTSS b+76(FP), Y15
	MOVBQZX relu+80(FP), BX
	VXORPS Y13, Y13, Y13
	SHRQ $3, CX
	JZ app256done

app256loop:
	VMULPS (SI), Y14, Y0
	VADDPS Y15, Y0, Y0
	TESTQ R9, R9
	JZ app256nores
	VADDPS (R8), Y0, Y0
	ADDQ $32, R8

app256nores:
	TESTQ BX, BX
	JZ app256store
	VCMPPS $3, Y0, Y0, Y2
	VMAXPS Y13, Y0, Y1
	VBLENDVPS Y2, Y0, Y1, Y0

app256store:
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ app256loop

app256done:
	VZEROUPPER
	RET

// func maskAVX512(dst, dy, y []float32, fresh bool)
TEXT ·maskAVX512(SB), NOSPLIT, $0-73
	MOVQ dst_base+0(FP), DI
	MOVQ dy_base+24(FP), SI
	MOVQ dy_len+32(FP), CX
	MOVQ y_base+48(FP), R8
	MOVBQZX fresh+72(FP), BX
	SHRQ $4, CX
	JZ mask512done

mask512loop:
	VMOVUPS (R8), Z1
	VPTESTMD Z1, Z1, K1
	VMOVUPS.Z (SI), K1, Z0
	TESTQ BX, BX
	JNZ mask512store
	VADDPS (DI), Z0, Z0

mask512store:
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R8
	DECQ CX
	JNZ mask512loop

mask512done:
	VZEROUPPER
	RET

// func maskAVX2(dst, dy, y []float32, fresh bool)
TEXT ·maskAVX2(SB), NOSPLIT, $0-73
	MOVQ dst_base+0(FP), DI
	MOVQ dy_base+24(FP), SI
	MOVQ dy_len+32(FP), CX
	MOVQ y_base+48(FP), R8
	MOVBQZX fresh+72(FP), BX
	VXORPS Y15, Y15, Y15
	SHRQ $3, CX
	JZ mask256done

mask256loop:
	VMOVUPS (R8), Y1
	VPCMPEQD Y15, Y1, Y1
	VANDNPS (SI), Y1, Y0
	TESTQ BX, BX
	JNZ mask256store
	VADDPS (DI), Y0, Y0

mask256store:
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	DECQ CX
	JNZ mask256loop

mask256done:
	VZEROUPPER
	RET

// func backAVX512(gx, dy, x, y []float32, k *bnBackK, fresh, mask bool)
TEXT ·backAVX512(SB), NOSPLIT, $0-106
	MOVQ gx_base+0(FP), DI
	MOVQ dy_base+24(FP), SI
	MOVQ dy_len+32(FP), CX
	MOVQ x_base+48(FP), R8
	MOVQ y_base+72(FP), R9
	MOVQ k+96(FP), AX
	MOVBQZX fresh+104(FP), BX
	MOVBQZX mask+105(FP), DX
	VBROADCASTSS 0(AX), Z20
	VBROADCASTSS 4(AX), Z21
	VBROADCASTSS 8(AX), Z22
	VBROADCASTSS 12(AX), Z23
	VBROADCASTSS 16(AX), Z24
	SHRQ $4, CX
	JZ back512done

back512loop:
	VMOVUPS (SI), Z0
	TESTQ DX, DX
	JZ back512nomask
	VMOVUPS (R9), Z1
	VPTESTMD Z1, Z1, K1
	VMOVAPS.Z Z0, K1, Z0
	ADDQ $64, R9

back512nomask:
	VMOVUPS (R8), Z2
	VSUBPS Z20, Z2, Z2
	VMULPS Z21, Z2, Z2
	VMULPS Z24, Z2, Z2
	VSUBPS Z23, Z0, Z0
	VSUBPS Z2, Z0, Z0
	VMULPS Z22, Z0, Z0
	TESTQ BX, BX
	JNZ back512store
	VADDPS (DI), Z0, Z0

back512store:
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R8
	DECQ CX
	JNZ back512loop

back512done:
	VZEROUPPER
	RET

// func backAVX2(gx, dy, x, y []float32, k *bnBackK, fresh, mask bool)
TEXT ·backAVX2(SB), NOSPLIT, $0-106
	MOVQ gx_base+0(FP), DI
	MOVQ dy_base+24(FP), SI
	MOVQ dy_len+32(FP), CX
	MOVQ x_base+48(FP), R8
	MOVQ y_base+72(FP), R9
	MOVQ k+96(FP), AX
	MOVBQZX fresh+104(FP), BX
	MOVBQZX mask+105(FP), DX
	VBROADCASTSS 0(AX), Y10
	VBROADCASTSS 4(AX), Y11
	VBROADCASTSS 8(AX), Y12
	VBROADCASTSS 12(AX), Y13
	VBROADCASTSS 16(AX), Y14
	VXORPS Y15, Y15, Y15
	SHRQ $3, CX
	JZ back256done

back256loop:
	VMOVUPS (SI), Y0
	TESTQ DX, DX
	JZ back256nomask
	VMOVUPS (R9), Y1
	VPCMPEQD Y15, Y1, Y1
	VANDNPS Y0, Y1, Y0
	ADDQ $32, R9

back256nomask:
	VMOVUPS (R8), Y2
	VSUBPS Y10, Y2, Y2
	VMULPS Y11, Y2, Y2
	VMULPS Y14, Y2, Y2
	VSUBPS Y13, Y0, Y0
	VSUBPS Y2, Y0, Y0
	VMULPS Y12, Y0, Y0
	TESTQ BX, BX
	JNZ back256store
	VADDPS (DI), Y0, Y0

back256store:
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	DECQ CX
	JNZ back256loop

back256done:
	VZEROUPPER
	RET

// func lnAffineAVX512(dst, x, gm, bt []float32, is, shift float32)
// dst[k] = (is·gm[k])·x[k] + (shift·gm[k] + bt[k]) for len(dst)/16·16
// values, rounded as the Go loop of affineRow (no FMA).
TEXT ·lnAffineAVX512(SB), NOSPLIT, $0-104
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MOVQ gm_base+48(FP), R8
	MOVQ bt_base+72(FP), R9
	VBROADCASTSS is+96(FP), Z30
	VBROADCASTSS shift+100(FP), Z31
	SHRQ $4, CX
	JZ lnaffdone

lnaffloop:
	VMOVUPS (R8), Z2
	VMULPS Z2, Z30, Z0
	VMULPS Z2, Z31, Z1
	VADDPS (R9), Z1, Z1
	VMULPS (SI), Z0, Z0
	VADDPS Z1, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ lnaffloop

lnaffdone:
	VZEROUPPER
	RET
