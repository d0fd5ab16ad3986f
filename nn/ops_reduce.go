package nn

// Sum adds x over the given axes (all axes when none are given). With keep
// the reduced axes stay as size-1 dimensions.
func (g *Graph) Sum(x *Tensor, keep bool, axes ...int) *Tensor {
	return g.reduce(x, keep, false, axes)
}

// Mean averages x over the given axes (all axes when none are given).
func (g *Graph) Mean(x *Tensor, keep bool, axes ...int) *Tensor {
	return g.reduce(x, keep, true, axes)
}

func (g *Graph) reduce(x *Tensor, keep, mean bool, axes []int) *Tensor {
	if g.bad() {
		return g.dead
	}
	nd := len(x.Shape)
	red := make([]bool, nd)
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
	kshape := make([]int, nd) // keep-dims shape
	var oshape []int
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
	if oshape == nil {
		oshape = []int{}
	}
	scale := float32(1)
	if mean && cnt > 0 {
		scale = 1 / float32(cnt)
	}
	out := g.zeros(oshape...)
	bs := newBshape(x.Shape, kshape, x.Shape)
	// Fast path: reducing trailing dims of a [outer, inner] layout.
	if len(bs.out) <= 2 && bs.sb[len(bs.sb)-1] == 0 {
		inner := bs.out[len(bs.out)-1]
		pfor(len(out.Data), inner, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				var s float64
				for _, v := range x.Data[r*inner : (r+1)*inner] {
					s += float64(v)
				}
				out.Data[r] = float32(s) * scale
			}
		})
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
	if g.rec(x) {
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
