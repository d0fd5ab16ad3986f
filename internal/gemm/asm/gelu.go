//go:build ignore

// gelu.go holds what the generators gen.go and gen_dpbf16.go share (each
// is run together with this file: see the go:generate lines).

package main

import (
	"fmt"
	"math"
)

// emitGeluMem writes the epilogue's GELU of Z<z> (the instructions of
// Epilogue's vector GELU in the same order, so the same bits) with its
// constants read as broadcast memory operands of the table sym (1/√2,
// the erf clamp ±4, the rational erf's coefficients, 1/2: epilogueConsts)
// and Z<t>…Z<t+4> for its temporaries; each line starts with indent.
func emitGeluMem(p func(string, ...any), indent string, z, t int, sym string) {
	c := func(i int) string { return fmt.Sprintf("%s<>+%d(SB)", sym, 4*i) }
	x, sq, num, den, half := t, t+1, t+2, t+3, t+4
	p(indent+"VMULPS.BCST %s, Z%d, Z%d", c(0), z, x)
	p(indent+"VMAXPS.BCST %s, Z%d, Z%d", c(1), x, x)
	p(indent+"VMINPS.BCST %s, Z%d, Z%d", c(2), x, x)
	p(indent+"VMULPS Z%d, Z%d, Z%d", x, x, sq)
	p(indent+"VBROADCASTSS %s, Z%d", c(3), num)
	for i := 4; i <= 9; i++ {
		p(indent+"VFMADD213PS.BCST %s, Z%d, Z%d", c(i), sq, num)
	}
	p(indent+"VBROADCASTSS %s, Z%d", c(10), den)
	for i := 11; i <= 14; i++ {
		p(indent+"VFMADD213PS.BCST %s, Z%d, Z%d", c(i), sq, den)
	}
	p(indent+"VMULPS Z%d, Z%d, Z%d", x, num, num)
	p(indent+"VDIVPS Z%d, Z%d, Z%d", den, num, num)
	p(indent+"VMULPS.BCST %s, Z%d, Z%d", c(15), z, half)
	p(indent+"VMOVAPS Z%d, Z%d", half, z)
	p(indent+"VFMADD213PS Z%d, Z%d, Z%d", half, num, z)
}

// epilogueConsts are the GELU's constants (loaded into Z16…Z31 by
// gen.go's epilogue, read from memory by emitGeluMem): 1/√2, the erf
// clamp ±4, the odd numerator coefficients (x¹³ … x¹) and the even
// denominator coefficients (x⁸ … x⁰) of the rational erf used by Erf in
// epilogue.go, and 1/2.
var epilogueConsts = []float32{
	math.Sqrt2 / 2, -4, 4,
	-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
	-7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02,
	-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
	-1.42647390514189e-02,
	0.5,
}
