//go:build !amd64 || purego

package conv

func directKern8x48(a, b *float32, offs *int, ntaps, icg, ldb int, c *float32, acc int) {
	panic("conv: direct kernel without assembly")
}

func haveDirect() bool { return false }

func dwKern(xp *float32, offs *int, w *float32, ntaps int, out *float32, n int) {
	panic("conv: depthwise kernel without assembly")
}

func dwDots(xp *float32, offs *int, ntaps int, grad *float32, n int, out *float32) {
	panic("conv: depthwise kernel without assembly")
}

func deint2(src *float32, n, rows, sstride int, even, odd *float32, dstride int) {
	panic("conv: deinterleave without assembly")
}

func addRow(dst, src *float32, n int, b float32) {
	panic("conv: addRow without assembly")
}

func dwKern8x3(dy *float32, ldy int, x *float32, offs *int, n int, out *float32) {
	panic("conv: weight-gradient kernel without assembly")
}

func ocKern64x6(a, b *float32, offs *int, ntaps, icg, ldb int, c *float32, acc int) {
	panic("conv: direct kernel without assembly")
}

func ocStore(tile, y *float32, ldy, np int, bias *float32) {
	panic("conv: direct store without assembly")
}
