//go:build ignore

// gelu.go holds what the generators gen.go and gen_dpbf16.go share (each
// is run together with this file: see the go:generate lines).

package main

import "fmt"

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
