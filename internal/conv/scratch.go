package conv

import (
	"sync"
	"unsafe"
)

// floatPool lends float32 workspaces for the duration of one pass. The
// Winograd buffers are large (a tile block's transforms, channels-last
// copies of a sample) but only live during a call, and the layers of a
// network run one after the other: sharing them through one pool instead
// of keeping them in every plan saves tens of MB per network. It is safe
// for concurrent use; after warm-up it allocates nothing.
type floatPool struct {
	mu   sync.Mutex
	bufs [][]float32
}

// scratch is the package's pool.
var scratch floatPool

// maxPooled bounds the buffers kept; the smallest go first.
const maxPooled = 16

// get returns n floats starting on a 64-byte boundary, with undefined
// contents: the smallest pooled buffer that is large enough, or a new one.
func (p *floatPool) get(n int) []float32 {
	p.mu.Lock()
	best := -1
	for i, b := range p.bufs {
		if cap(b) >= n && (best < 0 || cap(b) < cap(p.bufs[best])) {
			best = i
		}
	}
	if best < 0 {
		p.mu.Unlock()
		return alignedZeros(n)
	}
	b := p.bufs[best]
	p.bufs[best] = p.bufs[len(p.bufs)-1]
	p.bufs = p.bufs[:len(p.bufs)-1]
	p.mu.Unlock()
	return b[:n]
}

// put returns b to the pool.
func (p *floatPool) put(b []float32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bufs = append(p.bufs, b)
	if len(p.bufs) > maxPooled {
		small := 0
		for i, x := range p.bufs {
			if cap(x) < cap(p.bufs[small]) {
				small = i
			}
		}
		p.bufs[small] = p.bufs[len(p.bufs)-1]
		p.bufs = p.bufs[:len(p.bufs)-1]
	}
}

// stageLen is the size of the assembly transforms' workspace: 1024 floats
// and 48 zeros that stand for the input rows outside the volume.
const stageLen = 1024 + 48

// getStage returns a transform workspace from the pool.
func getStage() []float32 {
	st := scratch.get(stageLen)
	clear(st[1024:])
	return st
}

// alignedZeros returns n zero floats starting on a 64-byte boundary.
func alignedZeros(n int) []float32 {
	s := make([]float32, n+16)
	off := 0
	for off < 16 && uintptr(unsafe.Pointer(&s[off]))%64 != 0 {
		off++
	}
	return s[off : off+n : off+n]
}
