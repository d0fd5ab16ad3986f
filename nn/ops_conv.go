package nn

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/conv"
	"github.com/metasurv/metasurv/internal/gemm"
)

// ConvOptions are the geometry options of a 3-D convolution, as in
// torch.nn.Conv3d. Zero Stride/Dilation entries and zero Groups mean 1, so
// the zero value is a stride-1, unpadded, ungrouped convolution.
type ConvOptions struct {
	Stride, Padding, Dilation [3]int
	Groups                    int
	// OutputPadding (transposed convolution only) adds cells at the high end
	// of each output axis.
	OutputPadding [3]int
	// NoBias makes NewConv3d and NewConvTranspose3d leave out the bias
	// (torch's bias=False); the graph operations ignore it (they take the
	// bias as an operand).
	NoBias bool
}

func (o ConvOptions) norm() ConvOptions {
	for i := range 3 {
		if o.Stride[i] == 0 {
			o.Stride[i] = 1
		}
		if o.Dilation[i] == 0 {
			o.Dilation[i] = 1
		}
	}
	if o.Groups == 0 {
		o.Groups = 1
	}
	return o
}

// convGeom is a resolved convolution: input (n, cin, in), weight
// (cout, cin/groups, k), output (n, cout, out).
type convGeom struct {
	n, cin, cout int
	in, k, out   [3]int
	o            ConvOptions
}

func (c *convGeom) inVol() int  { return c.in[0] * c.in[1] * c.in[2] }
func (c *convGeom) outVol() int { return c.out[0] * c.out[1] * c.out[2] }
func (c *convGeom) kVol() int   { return c.k[0] * c.k[1] * c.k[2] }

func newConvGeom(x, w []int, o ConvOptions) (convGeom, error) {
	o = o.norm()
	if len(x) != 5 || len(w) != 5 {
		return convGeom{}, fmt.Errorf("conv3d needs 5-D input and weight (N,C,D,H,W), got %v and %v", x, w)
	}
	c := convGeom{n: x[0], cin: x[1], cout: w[0], in: [3]int{x[2], x[3], x[4]}, k: [3]int{w[2], w[3], w[4]}, o: o}
	if o.Groups < 1 || c.cin%o.Groups != 0 || c.cout%o.Groups != 0 || w[1] != c.cin/o.Groups {
		return c, fmt.Errorf("conv3d: input %v, weight %v and groups %d disagree (want weight [cout, cin/groups, k...])", x, w, o.Groups)
	}
	for i := range 3 {
		if o.Padding[i] < 0 || o.Stride[i] < 1 || o.Dilation[i] < 1 || c.k[i] < 1 {
			return c, fmt.Errorf("conv3d: bad stride %v, padding %v, dilation %v or kernel %v", o.Stride, o.Padding, o.Dilation, c.k)
		}
		span := o.Dilation[i]*(c.k[i]-1) + 1
		c.out[i] = (c.in[i]+2*o.Padding[i]-span)/o.Stride[i] + 1
		if c.in[i]+2*o.Padding[i] < span {
			return c, fmt.Errorf("conv3d: kernel %v (dilation %v) larger than padded input %v", c.k, o.Dilation, c.in)
		}
	}
	return c, nil
}

// Conv3d computes a 3-D cross-correlation (torch.nn.functional.conv3d):
// x (N, Cin, D, H, W), w (Cout, Cin/groups, kD, kH, kW), optional bias b
// (Cout). Its packed weights live in the graph; the Conv3d layer keeps
// them across graphs.
func (g *Graph) Conv3d(x, w, b *Tensor, o ConvOptions) *Tensor {
	return g.conv3d(x, w, b, o, nil)
}

func (g *Graph) conv3d(x, w, b *Tensor, o ConvOptions, pc *packCache) *Tensor {
	if g.bad() || g.refuseBF16("conv3d input", x) {
		return g.dead
	}
	if w.bf != nil { // converted by ConvertBF16 (bf16_resident.go)
		return g.conv3dBF16(x, w, b, o)
	}
	c, err := newConvGeom(x.Shape, w.Shape, o)
	if err != nil {
		return g.fail("%v", err)
	}
	if b != nil && len(b.Data) != c.cout {
		return g.fail("conv3d: bias of %d values for %d output channels", len(b.Data), c.cout)
	}
	out := g.alloc(c.n, c.cout, c.out[0], c.out[1], c.out[2])
	key := planKey{p: c.params(), w: w}
	var bias []float32
	if b != nil {
		bias = b.Data
	}
	pc = g.packs(pc)
	e, err := pc.checkout(key)
	if err == nil {
		g.ep = conv.Epilogue{Bias: bias}
		err = g.convForward(e.plan, out.Data, x.Data)
		g.ep = conv.Epilogue{}
		pc.releasePlan(key, e)
	}
	if err != nil {
		return g.fail("conv3d: %v", err)
	}
	ins := [3]*Tensor{x, w, x}
	if b != nil {
		ins[2] = b
	}
	if g.rec(ins[:]...) {
		g.recordConv(out, x, w, b, key, c, pc)
	}
	return out
}

// recordConv records the backward of Conv3d (in its own function so that
// the forward pass's variables are not captured, and not heap-allocated,
// when nothing is recorded).
func (g *Graph) recordConv(out, x, w, b *Tensor, key planKey, c convGeom, pc *packCache) {
	{
		g.record(out, func(gout []float32) {
			must(pc.withPlan(key, func(e *planEntry) error {
				var err error
				g.gradInto(x, func(dx []float32) { err = e.plan.BackwardData(dx, gout) })
				if err != nil {
					return err
				}
				gw, gb := g.gradAcc(w), g.gradAccOpt(b)
				if gw == nil && gb == nil {
					return nil
				}
				if gw == nil {
					channelSum(gb, gout, c.n, c.cout, c.outVol(), false)
					return nil
				}
				return e.plan.BackwardWeight(gw, gb, x.Data, gout)
			}))
		})
	}
}

// ConvTranspose3d computes torch.nn.functional.conv_transpose3d: x (N, Cin,
// D, H, W), w (Cin, Cout/groups, kD, kH, kW), optional bias (Cout). It is
// the data gradient of the convolution mapping its output back to x.
func (g *Graph) ConvTranspose3d(x, w, b *Tensor, o ConvOptions) *Tensor {
	return g.convTranspose3d(x, w, b, o, nil)
}

func (g *Graph) convTranspose3d(x, w, b *Tensor, o ConvOptions, pc *packCache) *Tensor {
	if g.bad() || g.refuseBF16("conv_transpose3d input", x) || g.refuseBF16("conv_transpose3d", w) {
		return g.dead
	}
	o = o.norm()
	if len(x.Shape) != 5 || len(w.Shape) != 5 || w.Shape[0] != x.Shape[1] || x.Shape[1]%o.Groups != 0 {
		return g.fail("conv_transpose3d: input %v and weight %v disagree (want weight [cin, cout/groups, k...])", x.Shape, w.Shape)
	}
	cout := w.Shape[1] * o.Groups
	var outSz [3]int
	for i := range 3 {
		outSz[i] = (x.Shape[2+i]-1)*o.Stride[i] - 2*o.Padding[i] + o.Dilation[i]*(w.Shape[2+i]-1) + o.OutputPadding[i] + 1
		if o.OutputPadding[i] < 0 || (o.OutputPadding[i] >= o.Stride[i] && o.OutputPadding[i] >= o.Dilation[i]) {
			return g.fail("conv_transpose3d: output padding %v must be smaller than stride %v or dilation %v", o.OutputPadding, o.Stride, o.Dilation)
		}
	}
	// The adjoint convolution maps the output (N, cout, outSz) to x.
	c, err := newConvGeom([]int{x.Shape[0], cout, outSz[0], outSz[1], outSz[2]}, w.Shape, o)
	if err != nil {
		return g.fail("conv_transpose3d: %v", err)
	}
	if c.out != [3]int{x.Shape[2], x.Shape[3], x.Shape[4]} {
		return g.fail("conv_transpose3d: input %v does not map back onto itself (got %v)", x.Shape, c.out)
	}
	if b != nil && len(b.Data) != cout {
		return g.fail("conv_transpose3d: bias of %d values for %d output channels", len(b.Data), cout)
	}
	out := g.alloc(x.Shape[0], cout, outSz[0], outSz[1], outSz[2])
	tp := conv.Params{N: x.Shape[0], InC: x.Shape[1], OutC: cout, In: c.out, Kernel: c.k,
		Stride: o.Stride, Pad: o.Padding, Dilation: o.Dilation, Groups: o.Groups}
	key := planKey{p: tp, outPad: o.OutputPadding, transposed: true, w: w}
	var bias []float32
	if b != nil {
		bias = b.Data
	}
	pc = g.packs(pc)
	e, err := pc.checkout(key)
	if err == nil {
		err = e.tplan.Forward(out.Data, x.Data, bias)
		pc.releasePlan(key, e)
	}
	if err != nil {
		return g.fail("conv_transpose3d: %v", err)
	}
	ins := [3]*Tensor{x, w, x}
	if b != nil {
		ins[2] = b
	}
	if g.rec(ins[:]...) {
		g.recordConvT(out, x, w, b, key, c, cout, pc)
	}
	return out
}

// recordConvT records the backward of ConvTranspose3d.
func (g *Graph) recordConvT(out, x, w, b *Tensor, key planKey, c convGeom, cout int, pc *packCache) {
	{
		g.record(out, func(gout []float32) {
			must(pc.withPlan(key, func(e *planEntry) error {
				var err error
				g.gradInto(x, func(dx []float32) { err = e.tplan.BackwardData(dx, gout) })
				if err != nil {
					return err
				}
				gw, gb := g.gradAcc(w), g.gradAccOpt(b)
				if gw == nil && gb == nil {
					return nil
				}
				if gw == nil {
					channelSum(gb, gout, c.n, cout, c.inVol(), false)
					return nil
				}
				return e.tplan.BackwardWeight(gw, gb, x.Data, gout)
			}))
		})
	}
}

// channelSum sums gy (n, c, vol) over n and vol into gb (c).
func channelSum(gb, gy []float32, n, c, vol int, fresh bool) {
	for ch := 0; ch < c; ch++ {
		var s float64
		for i := 0; i < n; i++ {
			for _, v := range gy[(i*c+ch)*vol : (i*c+ch+1)*vol] {
				s += float64(v)
			}
		}
		if fresh {
			gb[ch] = float32(s)
		} else {
			gb[ch] += float32(s)
		}
	}
}

// must panics on an error that the forward pass's checks rule out (a
// broken internal invariant, not user input).
func must(err error) {
	if err != nil {
		panic("nn: internal error: " + err.Error())
	}
}

// fuse lists what a fused operation applies after its main computation
// (the convolution and bias of conv3dFused, the normalisation of
// batchNormAct and batchNormActPool); layers fill it from ActOptions.
type fuse struct {
	// Residual, if not nil, is added (same shape as the output).
	Residual *Tensor
	// ReLU applies max(·, 0) last (ResNet's relu(conv(x) + skip)).
	ReLU bool
	// Into receives the result (ActOptions.Into; inference only).
	Into *Tensor
}

// conv3dFused computes act(conv3d(x, w, b) + residual). In inference the
// additions and the activation run inside the convolution's output pass
// (no extra sweeps over memory); when recording it is the composition of
// Conv3d, Add and ReLU, with their gradients.
func (g *Graph) conv3dFused(x, w, b *Tensor, o ConvOptions, f fuse, pc *packCache) *Tensor {
	if g.bad() {
		return g.dead
	}
	if w.bf != nil { // converted by ConvertBF16: unfused
		y := g.conv3d(x, w, b, o, pc)
		if f.Residual != nil {
			y = g.Add(y, f.Residual)
		}
		if f.ReLU {
			y = g.ReLU(y)
		}
		return g.copyInto(f.Into, y, "Conv3d")
	}
	ins := [4]*Tensor{x, w, x, x}
	if b != nil {
		ins[2] = b
	}
	if f.Residual != nil {
		ins[3] = f.Residual
	}
	if g.rec(ins[:]...) {
		if f.Into != nil {
			return g.refuseInto("Conv3d")
		}
		y := g.conv3d(x, w, b, o, pc)
		if f.Residual != nil {
			y = g.Add(y, f.Residual)
		}
		if f.ReLU {
			y = g.ReLU(y)
		}
		return y
	}
	c, err := newConvGeom(x.Shape, w.Shape, o)
	if err != nil {
		return g.fail("%v", err)
	}
	if b != nil && len(b.Data) != c.cout {
		return g.fail("conv3d: bias of %d values for %d output channels", len(b.Data), c.cout)
	}
	out := g.output(f.Into, "Conv3d", c.n, c.cout, c.out[0], c.out[1], c.out[2])
	if out == g.dead {
		return out
	}
	if f.Residual != nil && !SameShape(f.Residual.Shape, out.Shape) {
		return g.fail("conv3d: residual %v does not match output %v", f.Residual.Shape, out.Shape)
	}
	key := planKey{p: c.params(), w: w}
	pc = g.packs(pc)
	e, err := pc.checkout(key)
	if err == nil {
		g.ep = conv.Epilogue{}
		if b != nil {
			g.ep.Bias = b.Data
		}
		if f.Residual != nil {
			g.ep.Residual = f.Residual.Data
		}
		if f.ReLU {
			g.ep.Act = gemm.ReLU
		}
		err = g.convForward(e.plan, out.Data, x.Data)
		g.ep = conv.Epilogue{}
		pc.releasePlan(key, e)
	}
	if err != nil {
		return g.fail("conv3d: %v", err)
	}
	return out
}

// convForward runs a convolution plan's forward with the graph's epilogue,
// in bfloat16 where the plan's path allows it on an Options.BF16 graph.
func (g *Graph) convForward(pl *conv.Plan, y, x []float32) error {
	if err := pl.SetBF16(g.bf16); err != nil {
		return err
	}
	return pl.Forward(y, x, &g.ep)
}
