//go:build amd64 && !purego

package gemm

// prefetchRows asks for the first lines cache lines of rows rows of a
// matrix, ld floats apart, starting at p (PREFETCHT1: into L2).
//
//go:noescape
func prefetchRows(p *float32, ld, rows, lines int)
