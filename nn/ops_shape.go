package nn

import "slices"

// Reshape returns x with another shape of the same size, sharing its data
// (one dimension may be -1). A weight converted by ConvertBF16 reshapes
// only with its first dimension kept (a patch embedding's [out, C, p, p,
// p] read as the Linear weight [out, C·p³]), sharing its bfloat16 values.
func (g *Graph) Reshape(x *Tensor, shape ...int) *Tensor {
	if g.bad() {
		return g.dead
	}
	if x.bf != nil {
		return g.reshapeBF16(x, shape)
	}
	var sb [8]int
	s, err := inferShapeInto(sb[:0], len(x.Data), shape)
	if err != nil {
		return g.SetErr(err)
	}
	var out *Tensor
	if g.arena != nil {
		out = g.arena.view(x.Data, s)
	} else {
		out = &Tensor{Shape: append([]int(nil), s...), Data: x.Data}
	}
	if g.rec(x) {
		g.record(out, func(gout []float32) { g.accum(x, gout) })
	}
	return out
}

// View returns x's values [offset, offset+numel(shape)) as a tensor of the
// given shape sharing x's memory (no copy): writes through either are seen
// by the other. In the channels-first layout one sample's run of channels
// is such a range, so a layer can read a channel prefix of a growing
// concatenation, or write its result into its channel slot with
// ActOptions.Into, instead of copying (DenseNet's dense blocks). When
// recorded, the view's gradient flows back into that range of x.
func (g *Graph) View(x *Tensor, offset int, shape ...int) *Tensor {
	if g.bad() || g.refuseBF16("View", x) {
		return g.dead
	}
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > len(x.Data)/d) {
			n = -1
			break
		}
		n *= d
	}
	if n < 0 || offset < 0 || offset > len(x.Data)-n {
		// (cloned: shape must not escape, or every call would allocate it)
		return g.fail("View: %v values at offset %d do not fit in a tensor of shape %v", slices.Clone(shape), offset, x.Shape)
	}
	data := x.Data[offset : offset+n : offset+n]
	var out *Tensor
	if g.arena != nil {
		out = g.arena.view(data, shape)
	} else {
		out = &Tensor{Shape: append([]int(nil), shape...), Data: data}
	}
	if g.rec(x) {
		g.record(out, func(gout []float32) {
			if gx := g.gradAcc(x); gx != nil {
				addTo(gx[offset:offset+n], gout)
			}
		})
	}
	return out
}

// Flatten reshapes dimensions [from, end] into one (like torch.flatten).
func (g *Graph) Flatten(x *Tensor, from int) *Tensor {
	if g.bad() || g.refuseBF16("Flatten", x) {
		return g.dead
	}
	if from < 0 || from > len(x.Shape) {
		return g.fail("Flatten: start dim %d out of range for shape %v", from, x.Shape)
	}
	s := make([]int, 0, from+1)
	s = append(s, x.Shape[:from]...)
	return g.Reshape(x, append(s, -1)...)
}

// Permute reorders dimensions: output dim i is input dim perm[i].
func (g *Graph) Permute(x *Tensor, perm ...int) *Tensor {
	if g.bad() || g.refuseBF16("Permute", x) {
		return g.dead
	}
	if len(perm) != len(x.Shape) {
		return g.fail("Permute: %d axes for shape %v", len(perm), x.Shape)
	}
	seen := make([]bool, len(perm))
	shape := make([]int, len(perm))
	for i, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			return g.fail("Permute: bad permutation %v", perm)
		}
		seen[p] = true
		shape[i] = x.Shape[p]
	}
	out := g.alloc(shape...)
	permuteCopy(out.Data, x.Data, x.Shape, perm, false)
	if g.rec(x) {
		g.record(out, func(gout []float32) {
			gx := g.gradAcc(x)
			permuteCopy(gout, gx, x.Shape, perm, true)
		})
	}
	return out
}

// Transpose swaps two dimensions.
func (g *Graph) Transpose(x *Tensor, a, b int) *Tensor {
	if a < 0 || b < 0 || a >= len(x.Shape) || b >= len(x.Shape) {
		return g.fail("Transpose: axes %d,%d out of range for shape %v", a, b, x.Shape)
	}
	perm := make([]int, len(x.Shape))
	for i := range perm {
		perm[i] = i
	}
	perm[a], perm[b] = b, a
	return g.Permute(x, perm...)
}

// permuteCopy writes the permutation of src (shape) into dst; with back it
// instead adds dst (permuted layout) into src (original layout).
func permuteCopy(dst, src []float32, shape, perm []int, back bool) {
	nd := len(shape)
	stride := make([]int, nd)
	acc := 1
	for i := nd - 1; i >= 0; i-- {
		stride[i] = acc
		acc *= shape[i]
	}
	os := make([]int, nd) // input stride of each output dim
	od := make([]int, nd)
	for i, p := range perm {
		os[i], od[i] = stride[p], shape[p]
	}
	if nd == 0 {
		if back {
			src[0] += dst[0]
		} else {
			dst[0] = src[0]
		}
		return
	}
	inner, is := od[nd-1], os[nd-1]
	outer := acc / max(inner, 1)
	pfor(outer, inner, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			off, rem := 0, r
			for d := nd - 2; d >= 0; d-- {
				off += (rem % od[d]) * os[d]
				rem /= od[d]
			}
			o := dst[r*inner : r*inner+inner]
			if back {
				for j, v := range o {
					src[off+j*is] += v
				}
			} else {
				for j := range o {
					o[j] = src[off+j*is]
				}
			}
		}
	})
}

// axisSplit returns the sizes before, at and after axis.
func axisSplit(shape []int, axis int) (outer, n, inner int) {
	outer, inner = 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	return outer, shape[axis], inner
}

// normAxis resolves a negative axis.
func normAxis(axis, nd int) (int, bool) {
	if axis < 0 {
		axis += nd
	}
	return axis, axis >= 0 && axis < nd
}

// Concat joins tensors along axis; all other dimensions must agree.
func (g *Graph) Concat(axis int, xs ...*Tensor) *Tensor {
	if g.bad() {
		return g.dead
	}
	if len(xs) == 0 {
		return g.fail("Concat of no tensors")
	}
	for _, x := range xs {
		if g.refuseBF16("Concat", x) {
			return g.dead
		}
	}
	ax, ok := normAxis(axis, len(xs[0].Shape))
	if !ok {
		return g.fail("Concat: axis %d out of range for shape %v", axis, xs[0].Shape)
	}
	shape := append([]int(nil), xs[0].Shape...)
	shape[ax] = 0
	for _, x := range xs {
		if len(x.Shape) != len(shape) {
			return g.fail("Concat: shapes %v and %v differ in rank", xs[0].Shape, x.Shape)
		}
		for d := range shape {
			if d != ax && x.Shape[d] != xs[0].Shape[d] {
				return g.fail("Concat along %d: shapes %v and %v differ", ax, xs[0].Shape, x.Shape)
			}
		}
		shape[ax] += x.Shape[ax]
	}
	out := g.alloc(shape...)
	outer, total, inner := axisSplit(shape, ax)
	off := 0
	for _, x := range xs {
		w := x.Shape[ax] * inner
		for o := 0; o < outer; o++ {
			copy(out.Data[o*total*inner+off:o*total*inner+off+w], x.Data[o*w:(o+1)*w])
		}
		off += w
	}
	if g.rec(xs...) {
		in := append([]*Tensor(nil), xs...)
		g.record(out, func(gout []float32) {
			off := 0
			for _, x := range in {
				w := x.Shape[ax] * inner
				if gx, fresh := g.gradBuf(x); gx != nil {
					for o := 0; o < outer; o++ {
						src := gout[o*total*inner+off : o*total*inner+off+w]
						dst := gx[o*w : (o+1)*w]
						if fresh {
							copy(dst, src)
						} else {
							for i, v := range src {
								dst[i] += v
							}
						}
					}
				}
				off += w
			}
		})
	}
	return out
}

// Narrow returns elements [start, start+length) of x along axis (a copy).
func (g *Graph) Narrow(x *Tensor, axis, start, length int) *Tensor {
	if g.bad() || g.refuseBF16("Narrow", x) {
		return g.dead
	}
	ax, ok := normAxis(axis, len(x.Shape))
	if !ok || start < 0 || length < 0 || start+length > x.Shape[ax] {
		return g.fail("Narrow: axis %d [%d,%d) out of range for shape %v", axis, start, start+length, x.Shape)
	}
	shape := append([]int(nil), x.Shape...)
	shape[ax] = length
	out := g.alloc(shape...)
	outer, n, inner := axisSplit(x.Shape, ax)
	w := length * inner
	for o := 0; o < outer; o++ {
		copy(out.Data[o*w:(o+1)*w], x.Data[(o*n+start)*inner:])
	}
	if g.rec(x) {
		g.record(out, func(gout []float32) {
			gx := g.gradAcc(x)
			for o := 0; o < outer; o++ {
				dst := gx[(o*n+start)*inner : (o*n+start)*inner+w]
				for i, v := range gout[o*w : (o+1)*w] {
					dst[i] += v
				}
			}
		})
	}
	return out
}

// Pad pads x with a constant; pads[i] = {before, after} for dimension i
// (missing trailing entries mean no padding). Negative pads crop.
func (g *Graph) Pad(x *Tensor, pads [][2]int, value float32) *Tensor {
	if g.bad() || g.refuseBF16("Pad", x) {
		return g.dead
	}
	if len(pads) > len(x.Shape) {
		return g.fail("Pad: %d pad pairs for shape %v", len(pads), x.Shape)
	}
	nd := len(x.Shape)
	shape := append([]int(nil), x.Shape...)
	lo := make([]int, nd)
	for i, p := range pads {
		shape[i] += p[0] + p[1]
		lo[i] = p[0]
		if shape[i] < 0 {
			return g.fail("Pad: pads %v crop dimension %d of shape %v below zero", p, i, x.Shape)
		}
	}
	out := g.alloc(shape...)
	for i := range out.Data {
		out.Data[i] = value
	}
	padWalk(x.Shape, shape, lo, func(si, di, n int) { copy(out.Data[di:di+n], x.Data[si:si+n]) })
	if g.rec(x) {
		g.record(out, func(gout []float32) {
			gx := g.gradAcc(x)
			padWalk(x.Shape, shape, lo, func(si, di, n int) {
				for i, v := range gout[di : di+n] {
					gx[si+i] += v
				}
			})
		})
	}
	return out
}

// padWalk calls fn(srcOff, dstOff, n) for each innermost run of the input
// elements that land inside the padded output.
func padWalk(in, out, lo []int, fn func(si, di, n int)) {
	nd := len(in)
	if nd == 0 {
		fn(0, 0, 1)
		return
	}
	var rec func(d, si, di int)
	rec = func(d, si, di int) {
		if d == nd-1 {
			a := max(0, -lo[d])
			b := min(in[d], out[d]-lo[d])
			if b > a {
				fn(si+a, di+a+lo[d], b-a)
			}
			return
		}
		is, os := 1, 1
		for _, v := range in[d+1:] {
			is *= v
		}
		for _, v := range out[d+1:] {
			os *= v
		}
		for i := 0; i < in[d]; i++ {
			o := i + lo[d]
			if o < 0 || o >= out[d] {
				continue
			}
			rec(d+1, si+i*is, di+o*os)
		}
	}
	rec(0, 0, 0)
}
