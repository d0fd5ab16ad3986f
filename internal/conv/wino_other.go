//go:build !amd64 || purego

package conv

func winoInput(x *float32, rows *[16]int, col0 int, masks uint64, stage *float32, dst *float32, vs, d2 int, smask uint64) {
	panic("conv: Winograd transforms without assembly")
}

func winoOutput(m *float32, ms int, y *float32, ldh, ldd int, mk01, mk23 uint64, bias float32, resid *float32, relu int) {
	panic("conv: Winograd transforms without assembly")
}

func winoTranspose16(src *float32, lds int, dst *float32, ldd int, nrows int, cols uint64) {
	panic("conv: Winograd transforms without assembly")
}

func winoInputCL(x *float32, ldw, ldh, ldd int, stage, dst *float32, vs int) {
	panic("conv: Winograd transforms without assembly")
}

func winoGradCL(dy *float32, ldw, ldh, ldd int, dst *float32, vs int) {
	panic("conv: Winograd transforms without assembly")
}

func winoFinish(z *float32, zs int, stage, out *float32) {
	panic("conv: Winograd transforms without assembly")
}

func winoKernel(stage, dst *float32, us int) {
	panic("conv: Winograd transforms without assembly")
}

const haveWino2Asm = false

func winoInput8(x *float32, rows *[16]int, col0 int, masks uint64, stage *float32, dst *float32, vs int, smask uint64) {
	panic("conv: Winograd transforms without assembly")
}

func winoOutput8(m *float32, ms int, y *float32, ldh, ldd int, mk01, mk23 uint64, bias float32, resid *float32, relu int, stage *float32) {
	panic("conv: Winograd transforms without assembly")
}

func winoTranspose8(src *float32, lds int, dst *float32, ldd int, nrows int, cols uint64) {
	panic("conv: Winograd transforms without assembly")
}

func winoInputCL8(x *float32, ldw, ldh, ldd int, stage, dst *float32, vs int) {
	panic("conv: Winograd transforms without assembly")
}

func winoGradCL6(dy *float32, ldw, ldh, ldd int, dst *float32, vs int) {
	panic("conv: Winograd transforms without assembly")
}

func winoFinish8(z *float32, zs int, stage, out *float32) {
	panic("conv: Winograd transforms without assembly")
}
