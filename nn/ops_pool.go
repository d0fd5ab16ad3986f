package nn

import "github.com/metasurv/metasurv/internal/ops"

// PoolOpts is the window of a 3-D pooling (torch.nn.MaxPool3d/AvgPool3d).
// A zero Stride means the kernel size (PyTorch's default).
type PoolOpts struct {
	Kernel, Stride, Padding [3]int
	// ExcludePad divides averages by the number of in-image cells only
	// (count_include_pad=False); the default counts padding, as PyTorch.
	ExcludePad bool
}

func (p PoolOpts) geom(shape []int) (n, c int, in, out [3]int, q PoolOpts, ok bool) {
	if len(shape) != 5 {
		return
	}
	q = p
	for i := range 3 {
		if q.Stride[i] == 0 {
			q.Stride[i] = q.Kernel[i]
		}
		if q.Kernel[i] < 1 || q.Stride[i] < 1 || q.Padding[i] < 0 || 2*q.Padding[i] > q.Kernel[i] {
			return
		}
		in[i] = shape[2+i]
		out[i] = (in[i]+2*q.Padding[i]-q.Kernel[i])/q.Stride[i] + 1
		if out[i] < 1 {
			return
		}
	}
	return shape[0], shape[1], in, out, q, true
}

// MaxPool3d takes the maximum over each window (padding never wins).
func (g *Graph) MaxPool3d(x *Tensor, p PoolOpts) *Tensor {
	if g.bad() {
		return g.dead
	}
	n, c, in, out, q, ok := p.geom(x.Shape)
	if !ok {
		return g.fail("MaxPool3d: window %+v does not fit input %v (want 5-D, padding ≤ kernel/2)", p, x.Shape)
	}
	y := g.alloc(n, c, out[0], out[1], out[2])
	rec := g.rec(x)
	var arg []int32
	switch {
	case rec && g.arena != nil:
		arg = g.arena.int32s(len(y.Data))
	case rec:
		arg = make([]int32, len(y.Data))
	default:
		if cap(g.idx) < len(y.Data) {
			g.idx = make([]int32, len(y.Data))
		}
		arg = g.idx[:len(y.Data)]
	}
	op := ops.Pool{Kernel: q.Kernel, Stride: q.Stride, Pad: q.Padding}
	if err := ops.MaxPool3d(y.Data, arg, x.Data, n*c, in, op); err != nil {
		return g.fail("MaxPool3d: %v", err)
	}
	if rec {
		g.record(y, func(gout []float32) {
			g.gradInto(x, func(dx []float32) {
				if err := ops.MaxPool3dBackward(dx, gout, arg, n*c, in, op); err != nil {
					panic(err) // shapes were checked by the forward pass
				}
			})
		})
	}
	return y
}

// window returns the in-image input range of output index o along axis a.
func window(o int, q PoolOpts, in [3]int, a int) (lo, hi int) {
	s := o*q.Stride[a] - q.Padding[a]
	return max(s, 0), min(s+q.Kernel[a], in[a])
}

// AvgPool3d averages each window.
func (g *Graph) AvgPool3d(x *Tensor, p PoolOpts) *Tensor {
	if g.bad() {
		return g.dead
	}
	n, c, in, out, q, ok := p.geom(x.Shape)
	if !ok {
		return g.fail("AvgPool3d: window %+v does not fit input %v (want 5-D, padding ≤ kernel/2)", p, x.Shape)
	}
	div := func(d0, d1, h0, h1, w0, w1 int) float32 {
		if q.ExcludePad {
			return float32((d1 - d0) * (h1 - h0) * (w1 - w0))
		}
		return float32(q.Kernel[0] * q.Kernel[1] * q.Kernel[2])
	}
	return g.windowAvg(x, n, c, in, out, func(a, o int) (int, int) { return window(o, q, in, a) }, div)
}

// AdaptiveAvgPool3d averages x (N, C, D, H, W) into an output of the given
// size with PyTorch's bins [floor(i·in/out), ceil((i+1)·in/out)).
func (g *Graph) AdaptiveAvgPool3d(x *Tensor, size [3]int) *Tensor {
	if g.bad() {
		return g.dead
	}
	if len(x.Shape) != 5 || size[0] < 1 || size[1] < 1 || size[2] < 1 {
		return g.fail("AdaptiveAvgPool3d: input %v, output size %v (want 5-D input, positive size)", x.Shape, size)
	}
	in := [3]int{x.Shape[2], x.Shape[3], x.Shape[4]}
	bin := func(a, o int) (int, int) {
		return o * in[a] / size[a], ((o+1)*in[a] + size[a] - 1) / size[a]
	}
	div := func(d0, d1, h0, h1, w0, w1 int) float32 { return float32((d1 - d0) * (h1 - h0) * (w1 - w0)) }
	return g.windowAvg(x, x.Shape[0], x.Shape[1], in, size, bin, div)
}

func (g *Graph) windowAvg(x *Tensor, n, c int, in, out [3]int, win func(a, o int) (int, int), div func(d0, d1, h0, h1, w0, w1 int) float32) *Tensor {
	y := g.alloc(n, c, out[0], out[1], out[2])
	iv, ov := in[0]*in[1]*in[2], out[0]*out[1]*out[2]
	// visit calls fn(plane offset in x, output index, window, 1/divisor).
	visit := func(lo, hi int, fn func(src int, o int, d0, d1, h0, h1, w0, w1 int, inv float32)) {
		for pl := lo; pl < hi; pl++ {
			o := pl * ov
			for od := 0; od < out[0]; od++ {
				d0, d1 := win(0, od)
				for oh := 0; oh < out[1]; oh++ {
					h0, h1 := win(1, oh)
					for ow := 0; ow < out[2]; ow++ {
						w0, w1 := win(2, ow)
						fn(pl*iv, o, d0, d1, h0, h1, w0, w1, 1/div(d0, d1, h0, h1, w0, w1))
						o++
					}
				}
			}
		}
	}
	pfor(n*c, iv, func(lo, hi int) {
		visit(lo, hi, func(src, o, d0, d1, h0, h1, w0, w1 int, inv float32) {
			var s float32
			for d := d0; d < d1; d++ {
				for h := h0; h < h1; h++ {
					row := src + (d*in[1]+h)*in[2]
					for _, v := range x.Data[row+w0 : row+w1] {
						s += v
					}
				}
			}
			y.Data[o] = s * inv
		})
	})
	if g.rec(x) {
		g.record(y, func(gout []float32) {
			gx := g.gradAcc(x)
			pfor(n*c, iv, func(lo, hi int) {
				visit(lo, hi, func(src, o, d0, d1, h0, h1, w0, w1 int, inv float32) {
					v := gout[o] * inv
					for d := d0; d < d1; d++ {
						for h := h0; h < h1; h++ {
							row := gx[src+(d*in[1]+h)*in[2]:]
							for w := w0; w < w1; w++ {
								row[w] += v
							}
						}
					}
				})
			})
		})
	}
	return y
}
