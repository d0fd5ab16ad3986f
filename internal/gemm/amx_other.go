//go:build !linux || !amd64 || purego

package gemm

// amxPermit reports false: the tile state is only requested on Linux.
func amxPermit() bool { return false }
