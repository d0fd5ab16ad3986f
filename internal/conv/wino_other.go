//go:build !amd64 || purego

package conv

func winoInput(x *float32, rows *[16]int, col0 int, masks uint64, stage *float32, dst *float32, vs, d2 int, smask uint64) {
	panic("conv: Winograd transforms without assembly")
}

func winoOutput(m *float32, ms int, y *float32, ldh, ldd int, mk01, mk23 uint64, bias float32, resid *float32, relu int) {
	panic("conv: Winograd transforms without assembly")
}
