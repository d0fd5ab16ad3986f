package nn

// Arena recycles tensor buffers between passes of the same computation.
//
// A forward (or training) pass asks for its intermediate tensors in the same
// order every time; the arena hands out, in request order, the tensors it
// created during earlier passes, so after one warm-up pass a pass allocates
// nothing. Reset starts a new pass: every tensor handed out before becomes
// invalid, so copy results you keep (Tensor.Clone) before resetting.
//
// An Arena is not safe for concurrent use; use one per goroutine.
type Arena struct {
	owned []*Tensor // tensors owning their buffer, in request order
	views []*Tensor // headers sharing another tensor's buffer
	next  int
	nextV int
	// free holds released buffers by length: gradients of intermediate
	// tensors live only until their producer's backward has consumed them.
	free  map[int][][]float32
	ints  [][]int32 // index buffers (max-pool argmax), in request order
	nextI int
}

// NewArena returns an empty arena.
func NewArena() *Arena { return &Arena{} }

// Reset makes every tensor handed out so far reusable.
func (a *Arena) Reset() { a.next, a.nextV, a.nextI = 0, 0, 0 }

// Bytes reports the memory held by the arena's buffers.
func (a *Arena) Bytes() int64 {
	var n int64
	for _, t := range a.owned {
		n += int64(cap(t.Data)) * 4
	}
	for _, l := range a.free {
		for _, b := range l {
			n += int64(cap(b)) * 4
		}
	}
	return n
}

// get returns a released buffer of length n, or a new one.
func (a *Arena) get(n int) []float32 {
	if l := a.free[n]; len(l) > 0 {
		b := l[len(l)-1]
		a.free[n] = l[:len(l)-1]
		return b
	}
	return make([]float32, n)
}

// put releases b for reuse by get.
func (a *Arena) put(b []float32) {
	if a.free == nil {
		a.free = map[int][][]float32{}
	}
	a.free[len(b)] = append(a.free[len(b)], b)
}

// Tensor returns a tensor of the given shape whose contents are undefined
// (callers overwrite every element).
func (a *Arena) Tensor(shape ...int) *Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if a.next == len(a.owned) {
		a.owned = append(a.owned, &Tensor{Shape: make([]int, 0, 6)})
	}
	t := a.owned[a.next]
	a.next++
	if cap(t.Data) < n {
		t.Data = make([]float32, n)
	}
	t.Data = t.Data[:n]
	reset(t, shape)
	return t
}

// view returns an arena-owned tensor header sharing data with a new shape.
func (a *Arena) view(data []float32, shape []int) *Tensor {
	if a.nextV == len(a.views) {
		a.views = append(a.views, &Tensor{Shape: make([]int, 0, 6)})
	}
	t := a.views[a.nextV]
	a.nextV++
	t.Data = data
	reset(t, shape)
	return t
}

func reset(t *Tensor, shape []int) {
	t.Shape = append(t.Shape[:0], shape...)
	t.reqGrad, t.grad, t.gradOK, t.node = false, nil, false, nil
}

// int32s returns an index buffer of length n owned by the current pass.
func (a *Arena) int32s(n int) []int32 {
	if a.nextI == len(a.ints) {
		a.ints = append(a.ints, nil)
	}
	b := a.ints[a.nextI]
	if cap(b) < n {
		b = make([]int32, n)
	}
	a.ints[a.nextI] = b[:n]
	a.nextI++
	return b[:n]
}
