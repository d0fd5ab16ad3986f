package conv

import (
	"errors"
	"fmt"
)

// ErrParams is wrapped by every error that reports an invalid convolution
// shape, so callers can test for it with errors.Is.
var ErrParams = errors.New("conv: invalid parameters")

// Params describes one 3-D convolution layer applied to a batch, exactly as
// torch.nn.Conv3d does: input (N, InC, In[0], In[1], In[2]) row-major,
// weights (OutC, InC/Groups, Kernel[0], Kernel[1], Kernel[2]), output
// (N, OutC, Out()...). Zero Stride or Dilation entries mean 1 and a zero
// Groups means 1, so the zero value of the optional fields is the common
// case.
type Params struct {
	N, InC, OutC int
	In           [3]int
	Kernel       [3]int
	Stride       [3]int
	Pad          [3]int
	Dilation     [3]int
	Groups       int
}

// normalized returns p with the zero-means-one defaults applied.
func (p Params) normalized() Params {
	for i := range 3 {
		if p.Stride[i] == 0 {
			p.Stride[i] = 1
		}
		if p.Dilation[i] == 0 {
			p.Dilation[i] = 1
		}
	}
	if p.Groups == 0 {
		p.Groups = 1
	}
	return p
}

// Validate reports, as an error wrapping ErrParams, the first thing that
// makes p unusable: non-positive sizes, negative padding, groups that do
// not divide the channels, or a kernel larger than the padded input.
func (p Params) Validate() error {
	p = p.normalized()
	if p.N <= 0 || p.InC <= 0 || p.OutC <= 0 {
		return fmt.Errorf("%w: N, InC, OutC must be positive, got %d, %d, %d", ErrParams, p.N, p.InC, p.OutC)
	}
	if p.Groups < 0 || p.InC%p.Groups != 0 || p.OutC%p.Groups != 0 {
		return fmt.Errorf("%w: groups %d must divide InC %d and OutC %d", ErrParams, p.Groups, p.InC, p.OutC)
	}
	for i := range 3 {
		switch {
		case p.In[i] <= 0:
			return fmt.Errorf("%w: input size %v must be positive", ErrParams, p.In)
		case p.Kernel[i] <= 0:
			return fmt.Errorf("%w: kernel %v must be positive", ErrParams, p.Kernel)
		case p.Stride[i] < 0:
			return fmt.Errorf("%w: stride %v must be positive", ErrParams, p.Stride)
		case p.Dilation[i] < 0:
			return fmt.Errorf("%w: dilation %v must be positive", ErrParams, p.Dilation)
		case p.Pad[i] < 0:
			return fmt.Errorf("%w: padding %v must be non-negative", ErrParams, p.Pad)
		}
	}
	if out := p.Out(); out[0] <= 0 || out[1] <= 0 || out[2] <= 0 {
		return fmt.Errorf("%w: input %v with padding %v is smaller than the dilated kernel %v (dilation %v)",
			ErrParams, p.In, p.Pad, p.Kernel, p.Dilation)
	}
	return nil
}

// Out returns the output spatial size, floor((In + 2*Pad - Dilation*(Kernel-1) - 1)/Stride) + 1
// per axis, as torch computes it. Entries <= 0 mean the shape is invalid.
func (p Params) Out() [3]int {
	p = p.normalized()
	var o [3]int
	for i := range 3 {
		num := p.In[i] + 2*p.Pad[i] - p.Dilation[i]*(p.Kernel[i]-1) - 1
		if num < 0 {
			o[i] = 0
			continue
		}
		o[i] = num/p.Stride[i] + 1
	}
	return o
}

// InLen is the number of floats in the input tensor.
func (p Params) InLen() int { return p.N * p.InC * p.In[0] * p.In[1] * p.In[2] }

// OutLen is the number of floats in the output tensor.
func (p Params) OutLen() int { o := p.Out(); return p.N * p.OutC * o[0] * o[1] * o[2] }

// WeightLen is the number of floats in the weight tensor.
func (p Params) WeightLen() int {
	p = p.normalized()
	return p.OutC * (p.InC / p.Groups) * p.Kernel[0] * p.Kernel[1] * p.Kernel[2]
}

// FLOPs is the multiply-add count times two of the forward pass,
// 2*N*OutC*(InC/Groups)*prod(Kernel)*prod(Out()), the figure benchmarks
// report GFLOP/s against (the same for each backward pass).
func (p Params) FLOPs() float64 {
	o := p.Out()
	return 2 * float64(p.WeightLen()) * float64(p.N) * float64(o[0]*o[1]*o[2])
}

// kvol is the number of kernel taps.
func (p Params) kvol() int { return p.Kernel[0] * p.Kernel[1] * p.Kernel[2] }

// checkLens returns an error when a caller's slice is shorter than its shape needs.
func checkLen(what string, got, want int) error {
	if got < want {
		return fmt.Errorf("%w: %s has %d floats, the shape needs %d", ErrParams, what, got, want)
	}
	return nil
}

// TransposedParams describes torch.nn.ConvTranspose3d: input
// (N, InC, In...), weights (InC, OutC/Groups, Kernel...), output
// (N, OutC, Out()...). A transposed convolution is the data gradient of the
// ordinary convolution returned by Adjoint, which is how it is computed.
type TransposedParams struct {
	Params
	// OutputPadding adds cells at the high end of each output axis (torch's
	// output_padding); each entry must be smaller than the stride or the
	// dilation on that axis.
	OutputPadding [3]int
}

// Out returns the transposed convolution's output size,
// (In-1)*Stride - 2*Pad + Dilation*(Kernel-1) + OutputPadding + 1.
func (t TransposedParams) Out() [3]int {
	p := t.Params.normalized()
	var o [3]int
	for i := range 3 {
		o[i] = (p.In[i]-1)*p.Stride[i] - 2*p.Pad[i] + p.Dilation[i]*(p.Kernel[i]-1) + t.OutputPadding[i] + 1
	}
	return o
}

// Adjoint returns the ordinary convolution whose input has the transposed
// layer's output shape and whose output has the transposed layer's input
// shape; its weight layout (OutC=t.InC, InC/Groups=t.OutC/Groups, k...) is the
// transposed layer's weight layout.
func (t TransposedParams) Adjoint() (Params, error) {
	p := t.Params.normalized()
	if p.N <= 0 || p.InC <= 0 || p.OutC <= 0 {
		return Params{}, fmt.Errorf("%w: N, InC, OutC must be positive, got %d, %d, %d", ErrParams, p.N, p.InC, p.OutC)
	}
	for i := range 3 {
		op := t.OutputPadding[i]
		if op < 0 || (op >= p.Stride[i] && op >= p.Dilation[i]) {
			return Params{}, fmt.Errorf("%w: output padding %v must be non-negative and smaller than stride %v or dilation %v",
				ErrParams, t.OutputPadding, p.Stride, p.Dilation)
		}
	}
	a := Params{N: p.N, InC: p.OutC, OutC: p.InC, In: t.Out(), Kernel: p.Kernel, Stride: p.Stride,
		Pad: p.Pad, Dilation: p.Dilation, Groups: p.Groups}
	if err := a.Validate(); err != nil {
		return Params{}, err
	}
	if a.Out() != p.In {
		return Params{}, fmt.Errorf("%w: transposed input %v does not map back onto itself (got %v); check padding and kernel",
			ErrParams, p.In, a.Out())
	}
	return a, nil
}
