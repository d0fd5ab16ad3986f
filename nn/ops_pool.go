package nn

import "github.com/metasurv/metasurv/internal/ops"

// PoolOptions is the window of a 3-D pooling (torch.nn.MaxPool3d/AvgPool3d).
// A zero Stride means the kernel size (PyTorch's default).
type PoolOptions struct {
	Kernel, Stride, Padding [3]int
	// ExcludePad divides averages by the number of in-image cells only
	// (count_include_pad=False); the default counts padding, as PyTorch.
	ExcludePad bool
}

func (p PoolOptions) geom(shape []int) (n, c int, in, out [3]int, q PoolOptions, ok bool) {
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
func (g *Graph) MaxPool3d(x *Tensor, p PoolOptions) *Tensor {
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

// AvgPool3d averages each window.
func (g *Graph) AvgPool3d(x *Tensor, p PoolOptions) *Tensor {
	if g.bad() {
		return g.dead
	}
	n, c, in, out, q, ok := p.geom(x.Shape)
	if !ok {
		return g.fail("AvgPool3d: window %+v does not fit input %v (want 5-D, padding ≤ kernel/2)", p, x.Shape)
	}
	y := g.alloc(n, c, out[0], out[1], out[2])
	op := ops.Pool{Kernel: q.Kernel, Stride: q.Stride, Pad: q.Padding, ExcludePad: q.ExcludePad}
	if err := ops.AvgPool3d(y.Data, x.Data, n*c, in, op); err != nil {
		return g.fail("AvgPool3d: %v", err)
	}
	if g.rec(x) {
		g.record(y, func(gout []float32) {
			g.gradInto(x, func(dx []float32) { must(ops.AvgPool3dBackward(dx, gout, n*c, in, op)) })
		})
	}
	return y
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
	n, c := x.Shape[0], x.Shape[1]
	in := [3]int{x.Shape[2], x.Shape[3], x.Shape[4]}
	y := g.alloc(n, c, size[0], size[1], size[2])
	if err := ops.AdaptiveAvgPool3d(y.Data, x.Data, n*c, in, size); err != nil {
		return g.fail("AdaptiveAvgPool3d: %v", err)
	}
	if g.rec(x) {
		g.record(y, func(gout []float32) {
			g.gradInto(x, func(dx []float32) { must(ops.AdaptiveAvgPool3dBackward(dx, gout, n*c, in, size)) })
		})
	}
	return y
}
