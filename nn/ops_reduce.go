package nn

// Sum adds x over the given axes (all axes when none are given); the
// reduced axes are removed (torch's keepdim=False: Reshape the result to
// keep them as size-1 dimensions).
func (g *Graph) Sum(x *Tensor, axes ...int) *Tensor {
	return g.reduce(x, false, false, axes)
}

// Mean averages x over the given axes (all axes when none are given),
// removing them as Sum does.
func (g *Graph) Mean(x *Tensor, axes ...int) *Tensor {
	return g.reduce(x, false, true, axes)
}

func (g *Graph) reduce(x *Tensor, keep, mean bool, axes []int) *Tensor {
	if g.bad() || g.refuseBF16("Sum/Mean", x) {
		return g.dead
	}
	nd := len(x.Shape)
	var redBuf [8]bool
	var kBuf, oBuf [8]int
	red, kshape, oshape := redBuf[:0], kBuf[:0], oBuf[:0]
	if nd > 8 {
		red, kshape, oshape = make([]bool, 0, nd), make([]int, 0, nd), make([]int, 0, nd)
	}
	red, kshape = red[:nd], kshape[:nd]
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	for _, a := range axes {
		ax, ok := normAxis(a, nd)
		if !ok {
			return g.fail("reduce: axis %d out of range for shape %v", a, x.Shape)
		}
		red[ax] = true
	}
	cnt := 1
	for i, d := range x.Shape {
		if red[i] {
			kshape[i] = 1
			cnt *= d
			if keep {
				oshape = append(oshape, 1)
			}
			continue
		}
		kshape[i] = d
		oshape = append(oshape, d)
	}
	scale := float32(1)
	if mean && cnt > 0 {
		scale = 1 / float32(cnt)
	}
	out := g.zeros(oshape...)
	rec := g.rec(x)
	if suffix := trailing(red); suffix && !rec {
		// Reducing trailing dims of an [outer, inner] layout (global pooling).
		j := g.job
		j.s[0], j.s[1], j.i[0], j.f[0] = out.Data, x.Data, cnt, scale
		g.runJob(len(out.Data), cnt, rowSumBody)
		return out
	}
	bs := newBshape(x.Shape, kshape, x.Shape)
	if len(bs.out) <= 2 && bs.sb[len(bs.sb)-1] == 0 {
		inner := bs.out[len(bs.out)-1]
		j := g.job
		j.s[0], j.s[1], j.i[0], j.f[0] = out.Data, x.Data, inner, scale
		g.runJob(len(out.Data), inner, rowSumBody)
	} else {
		bs.runs(0, bs.outer(), func(o, ia, ib, n, sa, sb int) {
			for i := 0; i < n; i++ {
				out.Data[ib+i*sb] += x.Data[o+i]
			}
		})
		for i := range out.Data {
			out.Data[i] *= scale
		}
	}
	if rec {
		g.record(out, func(gout []float32) {
			gx, fresh := g.gradBuf(x)
			pfor(bs.outer(), bs.out[len(bs.out)-1], func(lo, hi int) {
				bs.runs(lo, hi, func(o, ia, ib, n, sa, sb int) {
					for i := 0; i < n; i++ {
						v := gout[ib+i*sb] * scale
						if !fresh {
							v += gx[o+i]
						}
						gx[o+i] = v
					}
				})
			})
		})
	}
	return out
}

// trailing reports whether the reduced axes form a suffix of the shape.
func trailing(red []bool) bool {
	seen := false
	for _, r := range red {
		if seen && !r {
			return false
		}
		seen = seen || r
	}
	return true
}

func rowSumBody(j *pjob, lo, hi int) {
	out, x, inner, scale := j.s[0], j.s[1], j.i[0], j.f[0]
	for r := lo; r < hi; r++ {
		var s float64
		for _, v := range x[r*inner : (r+1)*inner] {
			s += float64(v)
		}
		out[r] = float32(s) * scale
	}
}
