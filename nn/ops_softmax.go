package nn

import "math"

// Softmax normalises exp(x) along axis (numerically stable).
func (g *Graph) Softmax(x *Tensor, axis int) *Tensor { return g.softmax(x, axis, false) }

// LogSoftmax returns log(Softmax(x)) computed stably.
func (g *Graph) LogSoftmax(x *Tensor, axis int) *Tensor { return g.softmax(x, axis, true) }

func (g *Graph) softmax(x *Tensor, axis int, logOut bool) *Tensor {
	if g.bad() || g.refuseBF16("Softmax", x) {
		return g.dead
	}
	ax, ok := normAxis(axis, len(x.Shape))
	if !ok {
		return g.fail("Softmax: axis %d out of range for shape %v", axis, x.Shape)
	}
	outer, n, inner := axisSplit(x.Shape, ax)
	out := g.alloc(x.Shape...)
	j := g.job
	j.s[0], j.s[1], j.i[0], j.i[1], j.b = out.Data, x.Data, n, inner, logOut
	g.runJob(outer*inner, n*8, softmaxBody)
	if g.rec(x) {
		g.record(out, func(gout []float32) {
			gx, fresh := g.gradBuf(x)
			pfor(outer*inner, n*8, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					base := (r/inner)*n*inner + r%inner
					var dot float64
					for i := 0; i < n; i++ {
						j := base + i*inner
						if logOut {
							dot += float64(gout[j])
						} else {
							dot += float64(gout[j] * out.Data[j])
						}
					}
					for i := 0; i < n; i++ {
						j := base + i*inner
						var v float32
						if logOut {
							v = gout[j] - float32(math.Exp(float64(out.Data[j]))*dot)
						} else {
							v = out.Data[j] * (gout[j] - float32(dot))
						}
						if !fresh {
							v += gx[j]
						}
						gx[j] = v
					}
				}
			})
		})
	}
	return out
}

// softmaxBody normalises rows [lo, hi) of an (outer·inner) × n layout
// with stride inner along the softmax axis.
func softmaxBody(j *pjob, lo, hi int) {
	out, x, n, inner, logOut := j.s[0], j.s[1], j.i[0], j.i[1], j.b
	for r := lo; r < hi; r++ {
		base := (r/inner)*n*inner + r%inner
		m := float32(math.Inf(-1))
		for i := 0; i < n; i++ {
			m = max(m, x[base+i*inner])
		}
		var s float64
		for i := 0; i < n; i++ {
			e := math.Exp(float64(x[base+i*inner] - m))
			s += e
			if !logOut {
				out[base+i*inner] = float32(e)
			}
		}
		if logOut {
			ls := m + float32(math.Log(s))
			for i := 0; i < n; i++ {
				out[base+i*inner] = x[base+i*inner] - ls
			}
		} else {
			inv := float32(1 / s)
			for i := 0; i < n; i++ {
				out[base+i*inner] *= inv
			}
		}
	}
}
