package cnn

import (
	"fmt"
	"math"
	"strconv"

	"github.com/metasurv/metasurv/nn"
)

// SEBlockType is the bottleneck of a SENet.
type SEBlockType int

const (
	// SEResNeXtBottleneck: ResNeXt type C with SE (width from groups ×
	// base width 4), stride in the grouped 3×3×3 convolution.
	SEResNeXtBottleneck SEBlockType = iota
	// SEResNetBottleneck: ResNet bottleneck with SE, stride in the first
	// 1×1×1 convolution (Caffe style).
	SEResNetBottleneck
	// SEBottleneck: SENet154's bottleneck (widths 2×planes, 4×planes).
	SEBottleneck
)

// String returns MONAI's class name.
func (b SEBlockType) String() string {
	switch b {
	case SEResNeXtBottleneck:
		return "SEResNeXtBottleneck"
	case SEResNetBottleneck:
		return "SEResNetBottleneck"
	case SEBottleneck:
		return "SEBottleneck"
	}
	return "SEBlockType(" + strconv.Itoa(int(b)) + ")"
}

// SENetConfig is MONAI's SENet(...) signature (spatial_dims=3). Unlike
// MONAI its zero values are not SENet154's: use the presets (New, or
// SENetPreset) for the named networks.
type SENetConfig struct {
	InChannels int // in_channels; zero means 1
	Classes    int // num_classes; required
	Block      SEBlockType
	Layers     [4]int // layers; required
	Groups     int    // groups; zero means 1
	Reduction  int    // reduction; zero means 16
	// DropoutProb is dropout_prob; zero means None (no dropout layer).
	DropoutProb float64
	// Inplanes is the width of layer0's output (inplanes); zero means 64.
	Inplanes int
	// DownsampleKernelSize is downsample_kernel_size; zero means 1.
	DownsampleKernelSize int
	Input3x3             bool // input_3x3
	Seed                 uint64
}

// senetPresets are MONAI's SENet154, SEResNet50/101/152 and
// SEResNext50/101 (32×4d).
var senetPresets = map[string]SENetConfig{
	"senet154":     {Block: SEBottleneck, Layers: [4]int{3, 8, 36, 3}, Groups: 64, Reduction: 16, DropoutProb: 0.2, Inplanes: 128, DownsampleKernelSize: 3, Input3x3: true},
	"seresnet50":   {Block: SEResNetBottleneck, Layers: [4]int{3, 4, 6, 3}, Groups: 1, Reduction: 16, Inplanes: 64, DownsampleKernelSize: 1},
	"seresnet101":  {Block: SEResNetBottleneck, Layers: [4]int{3, 4, 23, 3}, Groups: 1, Reduction: 16, Inplanes: 64, DownsampleKernelSize: 1},
	"seresnet152":  {Block: SEResNetBottleneck, Layers: [4]int{3, 8, 36, 3}, Groups: 1, Reduction: 16, Inplanes: 64, DownsampleKernelSize: 1},
	"seresnext50":  {Block: SEResNeXtBottleneck, Layers: [4]int{3, 4, 6, 3}, Groups: 32, Reduction: 16, Inplanes: 64, DownsampleKernelSize: 1},
	"seresnext101": {Block: SEResNeXtBottleneck, Layers: [4]int{3, 4, 23, 3}, Groups: 32, Reduction: 16, Inplanes: 64, DownsampleKernelSize: 1},
}

// SENetPreset returns the configuration of a named SENet (senet154,
// seresnet50, seresnet101, seresnet152, seresnext50, seresnext101).
func SENetPreset(name string) (SENetConfig, error) {
	c, ok := senetPresets[name]
	if !ok {
		return c, fmt.Errorf("%w: no SENet preset %q", ErrUnknownModel, name)
	}
	return c, nil
}

// SENet is MONAI's SENet with its state-dict names: layer0.{conv1, bn1[,
// conv2, bn2, conv3, bn3]}, layer1…layer4 blocks with conv1/2/3.conv and
// .adn.N, se_layer.fc.0/2, project.conv/.adn.N, and last_linear.
type SENet struct {
	Config     SENetConfig
	Stem       []*nn.Conv3d // layer0 conv1[, conv2, conv3]
	StemBN     []*nn.BatchNorm
	Layers     [4][]*SEBlock
	LastLinear *nn.Linear
	training   bool
	width      int
	stages     []stage
	scratch    scratch
}

// SEBlock is MONAI's SEBlock: three convolution units (conv + batch norm
// [+ ReLU]), channel squeeze-and-excitation, a projected or identity
// residual and a final ReLU.
type SEBlock struct {
	Conv    [3]*ConvBN
	FC1     *nn.Linear // se_layer.fc.0
	FC2     *nn.Linear // se_layer.fc.2
	Project *ConvBN    // nil: identity
}

// ConvBN is MONAI's Convolution block as SENet uses it: a convolution,
// batch norm and optionally ReLU; its tensors are named conv.weight and
// adn.N.*.
type ConvBN struct {
	Conv *nn.Conv3d
	BN   *nn.BatchNorm
	ReLU bool
}

func (u *ConvBN) forward(g *nn.Graph, x, res *nn.Tensor) *nn.Tensor {
	return bnAct(g, u.BN, u.Conv.Forward(g, x), res, u.ReLU)
}

// Forward applies the unit.
func (u *ConvBN) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor { return u.forward(g, x, nil) }

// Visit names conv and adn.N as MONAI.
func (u *ConvBN) Visit(v *nn.Visitor) {
	v.Child("conv", u.Conv)
	v.Child("adn", adnNorm{u.BN})
}

type adnNorm struct{ bn *nn.BatchNorm }

func (a adnNorm) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor { return a.bn.Forward(g, x) }
func (a adnNorm) Visit(v *nn.Visitor)                          { v.Child("N", a.bn) }

// NewSENet builds a SENet with MONAI's initialisation.
func NewSENet(c SENetConfig) (*SENet, error) {
	if c.InChannels == 0 {
		c.InChannels = 1
	}
	if c.Groups == 0 {
		c.Groups = 1
	}
	if c.Reduction == 0 {
		c.Reduction = 16
	}
	if c.Inplanes == 0 {
		c.Inplanes = 64
	}
	if c.DownsampleKernelSize == 0 {
		c.DownsampleKernelSize = 1
	}
	if c.InChannels < 1 || c.Classes < 1 || c.Groups < 1 || c.Reduction < 1 || c.Inplanes < 1 || c.DownsampleKernelSize < 1 || !(c.DropoutProb >= 0 && c.DropoutProb < 1) {
		return nil, fmt.Errorf("%w: SENet %+v", ErrConfig, c)
	}
	if c.Block < SEResNeXtBottleneck || c.Block > SEBottleneck {
		return nil, fmt.Errorf("%w: unknown SENet block %d", ErrConfig, c.Block)
	}
	for _, n := range c.Layers {
		if n < 1 {
			return nil, fmt.Errorf("%w: SENet layers %v need at least one block per stage", ErrConfig, c.Layers)
		}
	}
	// MONAI: a grouped convolution's channels must be divisible by groups.
	// SEResNeXt's widths are multiples of groups by construction; the
	// others' narrowest grouped convolution has 128 (SEBottleneck) or 64
	// (SEResNetBottleneck) channels, and every wider one a multiple of it.
	if narrow := map[SEBlockType]int{SEBottleneck: 128, SEResNetBottleneck: 64}[c.Block]; narrow > 0 && narrow%c.Groups != 0 {
		return nil, fmt.Errorf("%w: SENet groups %d do not divide the %d channels of the first grouped convolution", ErrConfig, c.Groups, narrow)
	}
	if err := checkSize("SENet", senetParams(c)); err != nil {
		return nil, err
	}
	r := nn.NewRNG(c.Seed)
	conv := func(in, out, k, stride, groups int) *nn.Conv3d {
		return newConv(in, out, convSpec{k: cube(k), stride: cube(stride), pad: cube((k - 1) / 2), groups: groups}, kaimingFanIn(in, groups, cube(k)), r)
	}
	m := &SENet{Config: c, training: true}
	if c.Input3x3 {
		m.Stem = []*nn.Conv3d{conv(c.InChannels, 64, 3, 2, 1), conv(64, 64, 3, 1, 1), conv(64, c.Inplanes, 3, 1, 1)}
		m.StemBN = []*nn.BatchNorm{newBN(64), newBN(64), newBN(c.Inplanes)}
	} else {
		m.Stem = []*nn.Conv3d{newConv(c.InChannels, c.Inplanes, convSpec{k: cube(7), stride: cube(2), pad: cube(3)}, kaimingFanIn(c.InChannels, 1, cube(7)), r)}
		m.StemBN = []*nn.BatchNorm{newBN(c.Inplanes)}
	}
	in := c.Inplanes
	for s := range 4 {
		planes := 64 << s
		stride, dk := 2, c.DownsampleKernelSize
		if s == 0 {
			stride, dk = 1, 1
		}
		for b := range c.Layers[s] {
			st := 1
			if b == 0 {
				st = stride
			}
			blk := &SEBlock{}
			var n1, n2 int
			s1, s2 := 1, st
			switch c.Block {
			case SEBottleneck:
				n1, n2 = planes*2, planes*4
			case SEResNetBottleneck:
				n1, n2 = planes, planes
				s1, s2 = st, 1
			case SEResNeXtBottleneck:
				w := int(math.Floor(float64(planes)*4/64)) * c.Groups
				n1, n2 = w, w
			}
			n3 := planes * 4
			blk.Conv[0] = &ConvBN{Conv: conv(in, n1, 1, s1, 1), BN: newBN(n1), ReLU: true}
			blk.Conv[1] = &ConvBN{Conv: conv(n1, n2, 3, s2, c.Groups), BN: newBN(n2), ReLU: true}
			blk.Conv[2] = &ConvBN{Conv: conv(n2, n3, 1, 1, 1), BN: newBN(n3)}
			sq := n3 / c.Reduction
			if sq < 1 {
				return nil, fmt.Errorf("%w: SE reduction %d larger than %d channels", ErrConfig, c.Reduction, n3)
			}
			blk.FC1, blk.FC2 = newLinear(n3, sq, r), newLinear(sq, n3, r)
			if b == 0 && (st != 1 || in != n3) {
				blk.Project = &ConvBN{Conv: conv(in, n3, dk, st, 1), BN: newBN(n3)}
			} else if in != n3 {
				// SEBlock's own projection (never reached by SENet's layout).
				return nil, fmt.Errorf("%w: SENet block with %d→%d channels and no projection", ErrConfig, in, n3)
			}
			m.Layers[s] = append(m.Layers[s], blk)
			in = n3
		}
	}
	m.width = in
	m.LastLinear = newLinear(in, c.Classes, r)
	m.stages = append(m.stages, seStem{m}.Forward)
	for _, l := range m.Layers {
		for _, b := range l {
			m.stages = append(m.stages, b.Forward)
		}
	}
	m.stages = append(m.stages, globalAvg)
	return m, nil
}

// Forward applies the block.
func (b *SEBlock) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	res := x
	if b.Project != nil {
		res = b.Project.forward(g, x, nil)
	}
	y := b.Conv[0].forward(g, x, nil)
	y = b.Conv[1].forward(g, y, nil)
	y = b.Conv[2].forward(g, y, nil)
	y = squeezeExcite(g, y, b.FC1, b.FC2)
	return g.ReLU(g.Add(y, res))
}

// squeezeExcite is MONAI's ChannelSELayer: x · sigmoid(fc2(relu(fc1(mean(x))))).
func squeezeExcite(g *nn.Graph, x *nn.Tensor, fc1, fc2 *nn.Linear) *nn.Tensor {
	if g.Err() != nil {
		return x
	}
	n, c := x.Shape[0], x.Shape[1]
	s := g.Sigmoid(fc2.Forward(g, g.ReLU(fc1.Forward(g, globalAvg(g, x)))))
	return g.Mul(x, g.Reshape(s, n, c, 1, 1, 1))
}

// Visit names the block's tensors as MONAI's SEBlock.
func (b *SEBlock) Visit(v *nn.Visitor) {
	v.Child("conv1", b.Conv[0])
	v.Child("conv2", b.Conv[1])
	v.Child("conv3", b.Conv[2])
	v.Child("se_layer", seLayer{b})
	v.Child("project", b.Project)
}

type seLayer struct{ b *SEBlock }

func (s seLayer) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	return squeezeExcite(g, x, s.b.FC1, s.b.FC2)
}
func (s seLayer) Visit(v *nn.Visitor) { v.Child("fc", seFC{s.b}) }

type seFC struct{ b *SEBlock }

func (s seFC) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	return g.Sigmoid(s.b.FC2.Forward(g, g.ReLU(s.b.FC1.Forward(g, x))))
}
func (s seFC) Visit(v *nn.Visitor) { v.Child("0", s.b.FC1); v.Child("2", s.b.FC2) }

// Embed returns the globally pooled output of layer4, (N, EmbedDim()).
func (m *SENet) Embed(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	if !checkInput(g, x, m.Config.InChannels, "SENet") {
		return x
	}
	return runStages(g, x, &m.scratch, m.stages, false)
}

// FeatureMaps returns layer4's output, the input of the global average
// pool, (N, EmbedDim(), d, h, w): the maps Grad-CAM weighs.
func (m *SENet) FeatureMaps(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	if !checkInput(g, x, m.Config.InChannels, "SENet") {
		return x
	}
	return runStages(g, x, &m.scratch, m.stages[:len(m.stages)-1], false)
}

// EmbedFromMaps pools FeatureMaps' output: Embed(x) = EmbedFromMaps(FeatureMaps(x)).
func (m *SENet) EmbedFromMaps(g *nn.Graph, maps *nn.Tensor) *nn.Tensor {
	return embedFromMaps(g, maps, m.width, "SENet")
}

// maxPoolCeil is MaxPool3d(k, stride, ceil_mode=True) without padding: the
// input is extended at the high end with -Inf so the last partial window
// counts (every window still starts inside the input).
func maxPoolCeil(g *nn.Graph, x *nn.Tensor, k, stride int) *nn.Tensor {
	if g.Err() != nil || len(x.Shape) != 5 {
		return maxPool(g, x, poolSpec{k: cube(k), stride: cube(stride)})
	}
	pads := [][2]int{{0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}}
	any := false
	for d := range 3 {
		in := x.Shape[2+d]
		if in < k {
			continue // the pooling reports the error
		}
		out := (in-k+stride-1)/stride + 1
		if (out-1)*stride >= in {
			out--
		}
		if extra := (out-1)*stride + k - in; extra > 0 {
			pads[2+d][1] = extra
			any = true
		}
	}
	if any {
		x = g.Pad(x, pads, float32(math.Inf(-1)))
	}
	return maxPool(g, x, poolSpec{k: cube(k), stride: cube(stride)})
}

// Forward returns the logits (N, Classes); dropout (training only) sits
// between the pooling and last_linear as in MONAI.
func (m *SENet) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	e := m.Embed(g, x)
	if m.Config.DropoutProb > 0 && m.training {
		e = g.Dropout(e, m.Config.DropoutProb)
	}
	return m.LastLinear.Forward(g, e)
}

// SetTraining switches the classifier's dropout (nn.SetTraining reaches
// the batch norms).
func (m *SENet) SetTraining(on bool) { m.training = on }

// EmbedDim is 512 × 4 = 2048.
func (m *SENet) EmbedDim() int { return m.width }

// Visit names the state dict as MONAI's SENet.
func (m *SENet) Visit(v *nn.Visitor) {
	v.Child("layer0", seStem{m})
	for i, l := range m.Layers {
		v.Child("layer"+strconv.Itoa(i+1), seStage(l))
	}
	v.Child("last_linear", m.LastLinear)
}

type seStem struct{ m *SENet }

func (s seStem) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	for i, c := range s.m.Stem {
		x = bnAct(g, s.m.StemBN[i], c.Forward(g, x), nil, true)
	}
	return maxPoolCeil(g, x, 3, 2)
}
func (s seStem) Visit(v *nn.Visitor) {
	for i, c := range s.m.Stem {
		v.Child("conv"+strconv.Itoa(i+1), c)
		v.Child("bn"+strconv.Itoa(i+1), s.m.StemBN[i])
	}
}

type seStage []*SEBlock

func (s seStage) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	for _, b := range s {
		x = b.Forward(g, x)
	}
	return x
}
func (s seStage) Visit(v *nn.Visitor) {
	for i, b := range s {
		v.Child(strconv.Itoa(i), b)
	}
}
