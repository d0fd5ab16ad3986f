//go:build !amd64 || purego

package gemm

// prefetchRows is a no-op without assembly.
func prefetchRows(p *float32, ld, rows, lines int) {}
