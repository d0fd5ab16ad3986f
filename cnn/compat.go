package cnn

// The few nn calls the models make, gathered in one file so that a change
// of nn's API touches only this file.

import (
	"fmt"
	"math"

	"github.com/metasurv/metasurv/nn"
)

// convSpec is a convolution's geometry.
type convSpec struct {
	k, stride, pad, dil [3]int
	groups              int
	bias                bool
}

func cube(k int) [3]int { return [3]int{k, k, k} }

// newConv returns a Conv3d initialised with N(0, std²) weights (MONAI's
// schemes are all normal with a fan-based std) and zero bias.
func newConv(in, out int, s convSpec, std float64, r *nn.RNG) *nn.Conv3d {
	c := nn.NewConv3d(in, out, s.k, nn.ConvOptions{Stride: s.stride, Padding: s.pad, Dilation: s.dil, Groups: s.groups, NoBias: !s.bias}, r)
	nn.InitNormal(c.Weight, 0, std, r)
	if c.Bias != nil {
		nn.InitConst(c.Bias, 0)
	}
	return c
}

// kaimingFanOut is the std of kaiming_normal_(mode="fan_out", relu).
func kaimingFanOut(out int, k [3]int) float64 {
	return math.Sqrt(2 / float64(out*k[0]*k[1]*k[2]))
}

// kaimingFanIn is the std of kaiming_normal_() (fan_in, leaky_relu a=0).
func kaimingFanIn(in, groups int, k [3]int) float64 {
	return math.Sqrt(2 / float64(in/max(groups, 1)*k[0]*k[1]*k[2]))
}

func newLinear(in, out int, r *nn.RNG) *nn.Linear {
	l := nn.NewLinear(in, out, nn.LinearOptions{}, r)
	nn.InitConst(l.Bias, 0)
	return l
}

func newBN(c int) *nn.BatchNorm { return nn.NewBatchNorm3d(c) }

// bnAct computes act(bn(x) + res) in one fused pass.
func bnAct(g *nn.Graph, bn *nn.BatchNorm, x, res *nn.Tensor, relu bool) *nn.Tensor {
	return bn.ForwardAct(g, x, nn.ActOptions{Residual: res, ReLU: relu})
}

// bnReLUInto computes relu(bn(x)) into into (inference only; into may be x).
func bnReLUInto(g *nn.Graph, bn *nn.BatchNorm, x, into *nn.Tensor) *nn.Tensor {
	return bn.ForwardAct(g, x, nn.ActOptions{ReLU: true, Into: into})
}

// convInto computes conv(x) into into (inference only).
func convInto(g *nn.Graph, c *nn.Conv3d, x, into *nn.Tensor) *nn.Tensor {
	return c.ForwardAct(g, x, nn.ActOptions{Into: into})
}

// poolSpec is a pooling window.
type poolSpec struct{ k, stride, pad [3]int }

// bnReLUMaxPool computes maxpool(relu(bn(x))) without keeping the
// full-resolution activation (the stems of ResNet and DenseNet).
func bnReLUMaxPool(g *nn.Graph, bn *nn.BatchNorm, x *nn.Tensor, p poolSpec) *nn.Tensor {
	return bn.ForwardAct(g, x, nn.ActOptions{ReLU: true, MaxPool: &nn.PoolOptions{Kernel: p.k, Stride: p.stride, Padding: p.pad}})
}

// bnReLUAvgPool computes avgpool(relu(bn(x))), in inference without
// keeping the full-resolution activation (DenseNet's transitions).
func bnReLUAvgPool(g *nn.Graph, bn *nn.BatchNorm, x *nn.Tensor, p poolSpec) *nn.Tensor {
	return bn.ForwardAct(g, x, nn.ActOptions{ReLU: true, AvgPool: &nn.PoolOptions{Kernel: p.k, Stride: p.stride, Padding: p.pad}})
}

func maxPool(g *nn.Graph, x *nn.Tensor, p poolSpec) *nn.Tensor {
	return g.MaxPool3d(x, nn.PoolOptions{Kernel: p.k, Stride: p.stride, Padding: p.pad})
}

func avgPool(g *nn.Graph, x *nn.Tensor, p poolSpec) *nn.Tensor {
	return g.AvgPool3d(x, nn.PoolOptions{Kernel: p.k, Stride: p.stride, Padding: p.pad})
}

// globalAvg averages over the spatial axes: (N, C, D, H, W) → (N, C), as
// AdaptiveAvgPool3d(1) followed by flatten.
func globalAvg(g *nn.Graph, x *nn.Tensor) *nn.Tensor { return g.Mean(x, 2, 3, 4) }

// embedFromMaps is the global average pool of a model's feature maps,
// which must be (N, ch, d, h, w).
func embedFromMaps(g *nn.Graph, maps *nn.Tensor, ch int, model string) *nn.Tensor {
	if g.Err() != nil {
		return maps
	}
	if maps == nil {
		return g.SetErr(fmt.Errorf("%w: %s given nil feature maps", ErrInput, model))
	}
	if len(maps.Shape) != 5 || maps.Shape[1] != ch {
		return g.SetErr(fmt.Errorf("%w: %s feature maps have shape %v, want (N, %d, d, h, w)", ErrInput, model, maps.Shape, ch))
	}
	if !maps.Filled() {
		return g.SetErr(fmt.Errorf("%w: %s given %d feature-map values for shape %v", ErrInput, model, len(maps.Data), maps.Shape))
	}
	return globalAvg(g, maps)
}
