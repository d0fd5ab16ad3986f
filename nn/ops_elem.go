package nn

import (
	"math"
	"slices"

	"github.com/metasurv/metasurv/internal/ops"
)

// bshape is a broadcast of two operands to an output shape, with dimensions
// coalesced so that the innermost one is as long as possible.
type bshape struct {
	out    []int // coalesced output dims
	sa, sb []int // element strides of a and b per coalesced dim (0 = broadcast)
}

// broadcastShapes returns the NumPy broadcast of a and b (in buf when it
// is large enough).
func broadcastShapes(buf, a, b []int) ([]int, bool) {
	n := max(len(a), len(b))
	out := buf[:0]
	if cap(out) < n {
		out = make([]int, 0, n)
	}
	out = out[:n]
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, false
		}
	}
	return out, true
}

// stridesFor returns the strides of shape broadcast to out (0 on broadcast dims).
func stridesFor(shape, out []int) []int {
	s := make([]int, len(out))
	acc := 1
	for i := len(out) - 1; i >= 0; i-- {
		j := len(shape) - len(out) + i
		if j >= 0 && shape[j] != 1 {
			s[i] = acc
			acc *= shape[j]
		}
	}
	return s
}

func newBshape(as, bs, out []int) bshape {
	sa, sb := stridesFor(as, out), stridesFor(bs, out)
	var b bshape
	for i, d := range out {
		if d == 1 {
			continue
		}
		k := len(b.out) - 1
		if k >= 0 && b.sa[k] == sa[i]*d && b.sb[k] == sb[i]*d {
			b.out[k] *= d
			b.sa[k], b.sb[k] = sa[i], sb[i]
			continue
		}
		b.out = append(b.out, d)
		b.sa = append(b.sa, sa[i])
		b.sb = append(b.sb, sb[i])
	}
	if len(b.out) == 0 {
		b.out, b.sa, b.sb = []int{1}, []int{0}, []int{0}
	}
	return b
}

// runs calls fn for each innermost run of the broadcast, over outer runs
// [lo, hi): output offset, a and b offsets, run length and inner strides.
func (b *bshape) runs(lo, hi int, fn func(o, ia, ib, n, sa, sb int)) {
	nd := len(b.out)
	inner := b.out[nd-1]
	sa, sb := b.sa[nd-1], b.sb[nd-1]
	for r := lo; r < hi; r++ {
		ia, ib, rem := 0, 0, r
		for d := nd - 2; d >= 0; d-- {
			k := rem % b.out[d]
			rem /= b.out[d]
			ia += k * b.sa[d]
			ib += k * b.sb[d]
		}
		fn(r*inner, ia, ib, inner, sa, sb)
	}
}

func (b *bshape) outer() int {
	n := 1
	for _, d := range b.out[:len(b.out)-1] {
		n *= d
	}
	return n
}

type binOp int

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
)

// Add returns a + b with NumPy broadcasting.
func (g *Graph) Add(a, b *Tensor) *Tensor { return g.binary(a, b, opAdd) }

// Sub returns a - b with broadcasting.
func (g *Graph) Sub(a, b *Tensor) *Tensor { return g.binary(a, b, opSub) }

// Mul returns a * b elementwise with broadcasting.
func (g *Graph) Mul(a, b *Tensor) *Tensor { return g.binary(a, b, opMul) }

// Div returns a / b elementwise with broadcasting.
func (g *Graph) Div(a, b *Tensor) *Tensor { return g.binary(a, b, opDiv) }

func (g *Graph) binary(a, b *Tensor, op binOp) *Tensor {
	if g.bad() || g.refuseBF16("elementwise op", a) || g.refuseBF16("elementwise op", b) {
		return g.dead
	}
	var sb [8]int
	shape, ok := broadcastShapes(sb[:], a.Shape, b.Shape)
	if !ok {
		return g.fail("cannot broadcast shapes %v and %v", a.Shape, b.Shape)
	}
	out := g.alloc(shape...)
	rec := g.rec(a, b)
	if len(a.Data) == len(out.Data) && len(b.Data) == len(out.Data) && !rec {
		// Same shapes (residual additions): no broadcast bookkeeping.
		j := g.job
		j.s[0], j.s[1], j.s[2], j.i[0] = out.Data, a.Data, b.Data, int(op)
		g.runJob(len(out.Data), 1, binaryBody)
		return out
	}
	bs := newBshape(a.Shape, b.Shape, shape)
	inner := bs.out[len(bs.out)-1]
	pfor(bs.outer(), inner, func(lo, hi int) {
		bs.runs(lo, hi, func(o, ia, ib, n, sa, sb int) {
			binRun(op, out.Data[o:o+n], a.Data[ia:], b.Data[ib:], sa, sb)
		})
	})
	if rec {
		g.record(out, func(gout []float32) { g.binaryBack(a, b, out, op, bs, gout) })
	}
	return out
}

func binRun(op binOp, dst, a, b []float32, sa, sb int) {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(dst)], b[:len(dst)]
		switch op {
		case opAdd:
			for i := range dst {
				dst[i] = a[i] + b[i]
			}
		case opSub:
			for i := range dst {
				dst[i] = a[i] - b[i]
			}
		case opMul:
			for i := range dst {
				dst[i] = a[i] * b[i]
			}
		case opDiv:
			for i := range dst {
				dst[i] = a[i] / b[i]
			}
		}
	case sa == 1 && sb == 0:
		binScalar(op, dst, a[:len(dst)], b[0], false)
	case sa == 0 && sb == 1:
		binScalar(op, dst, b[:len(dst)], a[0], true)
	default:
		for i := range dst {
			x, y := a[i*sa], b[i*sb]
			switch op {
			case opAdd:
				dst[i] = x + y
			case opSub:
				dst[i] = x - y
			case opMul:
				dst[i] = x * y
			case opDiv:
				dst[i] = x / y
			}
		}
	}
}

// binScalar computes dst = v op c (or c op v when swapped) over a run.
func binScalar(op binOp, dst, v []float32, c float32, swapped bool) {
	switch {
	case op == opAdd:
		for i, x := range v {
			dst[i] = x + c
		}
	case op == opMul:
		for i, x := range v {
			dst[i] = x * c
		}
	case op == opSub && !swapped:
		for i, x := range v {
			dst[i] = x - c
		}
	case op == opSub:
		for i, x := range v {
			dst[i] = c - x
		}
	case op == opDiv && !swapped:
		for i, x := range v {
			dst[i] = x / c
		}
	default:
		for i, x := range v {
			dst[i] = c / x
		}
	}
}

// gradAcc returns t's gradient buffer ready for accumulation (zeroed when
// fresh), or nil when t needs none.
func (g *Graph) gradAcc(t *Tensor) []float32 {
	buf, fresh := g.gradBuf(t)
	if fresh {
		clear(buf)
	}
	return buf
}

func (g *Graph) binaryBack(a, b, out *Tensor, op binOp, bs bshape, gout []float32) {
	for side, t := range [2]*Tensor{a, b} {
		if !t.needsGrad() {
			continue
		}
		st := bs.sa
		if side == 1 {
			st = bs.sb
		}
		dense := !slices.Contains(st, 0) && len(t.Data) == len(gout)
		if dense && (op == opAdd || (op == opSub && side == 0)) {
			// The last side may take gout's buffer as its gradient (the
			// other side has copied it by then).
			if side == 1 || !b.needsGrad() {
				if g.passGrad(out, t) {
					continue
				}
			}
			g.accum(t, gout)
			continue
		}
		ga := g.gradAcc(t)
		body := func(o, ia, ib, n, sa, sb int) {
			gr := gout[o : o+n]
			for i, gv := range gr {
				x, y := a.Data[ia+i*sa], b.Data[ib+i*sb]
				var v float32
				switch op {
				case opAdd:
					v = gv
				case opSub:
					v = gv
					if side == 1 {
						v = -gv
					}
				case opMul:
					v = gv * y
					if side == 1 {
						v = gv * x
					}
				case opDiv:
					v = gv / y
					if side == 1 {
						v = -gv * x / (y * y)
					}
				}
				if side == 0 {
					ga[ia+i*sa] += v
				} else {
					ga[ib+i*sb] += v
				}
			}
		}
		// Runs write disjoint gradient cells when no outer dimension is
		// broadcast (e.g. a per-(sample, channel) scale of an SE block).
		if !slices.Contains(st[:len(st)-1], 0) {
			pfor(bs.outer(), bs.out[len(bs.out)-1], func(lo, hi int) { bs.runs(lo, hi, body) })
		} else {
			bs.runs(0, bs.outer(), body)
		}
	}
}

// Scale returns s·x.
func (g *Graph) Scale(x *Tensor, s float32) *Tensor {
	return g.affine(x, s, 0)
}

// AddScalar returns x + c.
func (g *Graph) AddScalar(x *Tensor, c float32) *Tensor {
	return g.affine(x, 1, c)
}

func (g *Graph) affine(x *Tensor, s, c float32) *Tensor {
	if g.bad() || g.refuseBF16("Scale/AddScalar", x) {
		return g.dead
	}
	out := g.alloc(x.Shape...)
	j := g.job
	j.s[0], j.s[1], j.f[0], j.f[1] = out.Data, x.Data, s, c
	g.runJob(len(x.Data), 1, affineBody)
	if g.rec(x) {
		g.record(out, func(gout []float32) {
			gx, fresh := g.gradBuf(x)
			pfor(len(gx), 1, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					if fresh {
						gx[i] = s * gout[i]
					} else {
						gx[i] += s * gout[i]
					}
				}
			})
		})
	}
	return out
}

// unaryFn computes y = f(x) elementwise; its derivative is expressed from x
// and y (whichever is cheaper).
type unaryFn struct {
	f  func(x float32) float32
	df func(x, y float32) float32
}

var (
	fnSigmoid = unaryFn{sigmoid, func(x, y float32) float32 { return y * (1 - y) }}
	fnTanh    = unaryFn{
		func(x float32) float32 { return float32(math.Tanh(float64(x))) },
		func(x, y float32) float32 { return 1 - y*y }}
	fnExp = unaryFn{
		func(x float32) float32 { return float32(math.Exp(float64(x))) },
		func(x, y float32) float32 { return y }}
	fnLog = unaryFn{
		func(x float32) float32 { return float32(math.Log(float64(x))) },
		func(x, y float32) float32 { return 1 / x }}
	fnSqrt = unaryFn{
		func(x float32) float32 { return float32(math.Sqrt(float64(x))) },
		func(x, y float32) float32 { return 0.5 / y }}
	fnSquare = unaryFn{
		func(x float32) float32 { return x * x },
		func(x, y float32) float32 { return 2 * x }}
	fnAbs = unaryFn{
		func(x float32) float32 { return float32(math.Abs(float64(x))) },
		func(x, y float32) float32 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return 0
		}}
)

func sigmoid(x float32) float32 {
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}

// ReLU returns max(x, 0).
func (g *Graph) ReLU(x *Tensor) *Tensor {
	if g.bad() || g.refuseBF16("ReLU", x) {
		return g.dead
	}
	out := g.alloc(x.Shape...)
	g.job.s[0], g.job.s[1] = out.Data, x.Data
	g.runJob(len(x.Data), 1, reluBody)
	if g.rec(x) {
		g.record(out, func(gout []float32) {
			dx, fresh := gout, true // in place when gout's buffer can be handed on
			if !g.passGrad(out, x) {
				dx, fresh = g.gradBuf(x)
			}
			j := g.job
			j.s[0], j.s[1], j.s[2], j.b = dx, out.Data, gout, fresh
			g.runJob(len(dx), 1, reluBackBody)
		})
	}
	return out
}

// gradInto lets a kernel that overwrites its destination produce t's
// gradient: directly when fresh, through a temporary that is added otherwise.
func (g *Graph) gradInto(t *Tensor, kernel func(dst []float32)) {
	buf, fresh := g.gradBuf(t)
	if buf == nil {
		return
	}
	if fresh {
		kernel(buf)
		return
	}
	if g.arena == nil {
		tmp := make([]float32, len(buf))
		kernel(tmp)
		addTo(buf, tmp)
		return
	}
	tmp := g.arena.get(len(buf))
	kernel(tmp)
	addTo(buf, tmp)
	g.arena.put(tmp)
}

// Sigmoid returns 1/(1+exp(-x)).
func (g *Graph) Sigmoid(x *Tensor) *Tensor { return g.unary(x, fnSigmoid) }

// Tanh returns tanh(x).
func (g *Graph) Tanh(x *Tensor) *Tensor { return g.unary(x, fnTanh) }

// SiLU returns x·sigmoid(x) (Swish), on internal/ops kernels.
func (g *Graph) SiLU(x *Tensor) *Tensor {
	return g.kernelUnary(x, ops.SiLU, func(dx, x, y, dy []float32) { ops.SiLUBackward(dx, x, dy) })
}

// GELU returns the exact (erf) GELU, PyTorch's default (SIMD kernels of
// internal/ops).
func (g *Graph) GELU(x *Tensor) *Tensor {
	return g.kernelUnary(x, ops.GELU, func(dx, x, y, dy []float32) { ops.GELUBackward(dx, x, dy) })
}

// kernelUnary applies an elementwise kernel and records its gradient
// kernel (which overwrites dx from x, y and dy).
func (g *Graph) kernelUnary(x *Tensor, fwd func(dst, x []float32), back func(dx, x, y, dy []float32)) *Tensor {
	if g.bad() || g.refuseBF16("elementwise function", x) {
		return g.dead
	}
	out := g.alloc(x.Shape...)
	fwd(out.Data, x.Data)
	if g.rec(x) {
		g.record(out, func(gout []float32) {
			g.gradInto(x, func(dx []float32) { back(dx, x.Data, out.Data, gout) })
		})
	}
	return out
}

// Exp returns e^x.
func (g *Graph) Exp(x *Tensor) *Tensor { return g.unary(x, fnExp) }

// Log returns the natural logarithm.
func (g *Graph) Log(x *Tensor) *Tensor { return g.unary(x, fnLog) }

// Sqrt returns the square root.
func (g *Graph) Sqrt(x *Tensor) *Tensor { return g.unary(x, fnSqrt) }

// Square returns x².
func (g *Graph) Square(x *Tensor) *Tensor { return g.unary(x, fnSquare) }

// Abs returns |x|.
func (g *Graph) Abs(x *Tensor) *Tensor { return g.unary(x, fnAbs) }

// LeakyReLU returns x for x > 0 and slope·x otherwise.
func (g *Graph) LeakyReLU(x *Tensor, slope float32) *Tensor {
	if g.bad() || g.refuseBF16("LeakyReLU", x) {
		return g.dead
	}
	out := g.alloc(x.Shape...)
	pfor(len(x.Data), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := x.Data[i]
			if v <= 0 {
				v *= slope
			}
			out.Data[i] = v
		}
	})
	if g.rec(x) {
		g.record(out, func(gout []float32) {
			gx, fresh := g.gradBuf(x)
			pfor(len(gx), 1, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					v := gout[i]
					if x.Data[i] <= 0 {
						v *= slope
					}
					if !fresh {
						v += gx[i]
					}
					gx[i] = v
				}
			})
		})
	}
	return out
}

func (g *Graph) unary(x *Tensor, fn unaryFn) *Tensor {
	if g.bad() || g.refuseBF16("elementwise function", x) {
		return g.dead
	}
	out := g.alloc(x.Shape...)
	g.job.s[0], g.job.s[1] = out.Data, x.Data
	g.ufn = fn.f
	g.runJob(len(x.Data), 8, g.unaryBody)
	g.ufn = nil
	if g.rec(x) {
		g.record(out, func(gout []float32) {
			gx, fresh := g.gradBuf(x)
			df := fn.df
			pfor(len(gx), 8, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					v := gout[i] * df(x.Data[i], out.Data[i])
					if !fresh {
						v += gx[i]
					}
					gx[i] = v
				}
			})
		})
	}
	return out
}

// prelu returns x for x > 0 and w[c]·x otherwise, with one learnable slope
// per channel (dimension 1) or a single shared slope (w of size 1).
func (g *Graph) prelu(x, w *Tensor) *Tensor {
	if g.bad() {
		return g.dead
	}
	c, inner := 1, 1
	if len(w.Data) != 1 {
		if len(x.Shape) < 2 || x.Shape[1] != len(w.Data) {
			return g.fail("PReLU: %d slopes for input shape %v (want 1 or channels=dim 1)", len(w.Data), x.Shape)
		}
		c = x.Shape[1]
		for _, d := range x.Shape[2:] {
			inner *= d
		}
	}
	out := g.alloc(x.Shape...)
	slope := func(i int) float32 { return w.Data[(i/inner)%c] }
	for i, v := range x.Data {
		if v <= 0 {
			v *= slope(i)
		}
		out.Data[i] = v
	}
	if g.rec(x, w) {
		g.record(out, func(gout []float32) {
			if gx, fresh := g.gradBuf(x); gx != nil {
				for i, v := range gout {
					if x.Data[i] <= 0 {
						v *= slope(i)
					}
					if !fresh {
						v += gx[i]
					}
					gx[i] = v
				}
			}
			if gw := g.gradAcc(w); gw != nil {
				for i, v := range gout {
					if x.Data[i] <= 0 {
						gw[(i/inner)%c] += v * x.Data[i]
					}
				}
			}
		})
	}
	return out
}

// Dropout zeroes each element with probability p and scales the others by
// 1/(1-p) (inverted dropout, as PyTorch in training mode). With p = 0 it
// returns x.
func (g *Graph) Dropout(x *Tensor, p float64) *Tensor {
	if g.bad() || g.refuseBF16("Dropout", x) {
		return g.dead
	}
	if p <= 0 {
		return x
	}
	if p >= 1 {
		return g.Scale(x, 0)
	}
	mask := g.alloc(x.Shape...)
	scale := float32(1 / (1 - p))
	for i := range mask.Data {
		if g.rng.Float64() < p {
			mask.Data[i] = 0
		} else {
			mask.Data[i] = scale
		}
	}
	return g.Mul(x, mask)
}

// reluBody is max(x, 0) over [lo, hi), the affine-free case of bnApply.
func reluBody(j *pjob, lo, hi int) {
	bnApply(j.s[0][lo:hi], j.s[1][lo:hi], nil, 1, 0, true)
}

// reluBackBody passes the output gradient where the ReLU output is
// non-zero (it is never negative).
func reluBackBody(j *pjob, lo, hi int) {
	reluMaskInto(j.s[0][lo:hi], j.s[2][lo:hi], j.s[1][lo:hi], j.b)
}

func binaryBody(j *pjob, lo, hi int) {
	binRun(binOp(j.i[0]), j.s[0][lo:hi], j.s[1][lo:hi], j.s[2][lo:hi], 1, 1)
}

func affineBody(j *pjob, lo, hi int) {
	dst, x, s, c := j.s[0][lo:hi], j.s[1][lo:hi], j.f[0], j.f[1]
	for i, v := range x {
		dst[i] = s*v + c
	}
}
