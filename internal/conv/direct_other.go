//go:build !amd64 || purego

package conv

func directKern8x48(a, b *float32, offs *int, ntaps, icg, ldb int, c *float32) {
	panic("conv: direct kernel without assembly")
}

func haveDirect() bool { return false }
