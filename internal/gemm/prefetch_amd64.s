//go:build amd64 && !purego

#include "textflag.h"

// func prefetchRows(p *float32, ld, rows, lines int)
// PREFETCHT1 of the first lines cache lines of rows rows, ld floats apart.
TEXT ·prefetchRows(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), AX
	MOVQ ld+8(FP), BX
	SHLQ $2, BX
	MOVQ rows+16(FP), CX
	MOVQ lines+24(FP), DX
	SHLQ $6, DX
prow:
	TESTQ CX, CX
	JE pdone
	XORQ SI, SI
pline:
	CMPQ SI, DX
	JGE pnext
	PREFETCHT1 (AX)(SI*1)
	ADDQ $64, SI
	JMP pline
pnext:
	ADDQ BX, AX
	DECQ CX
	JMP prow
pdone:
	RET
