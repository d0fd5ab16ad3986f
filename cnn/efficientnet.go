package cnn

import (
	"fmt"
	"math"
	"strconv"

	"github.com/metasurv/metasurv/nn"
)

// efficientnetParams are MONAI's (width, depth, image size, dropout,
// drop-connect) per model.
var efficientnetParams = map[string][5]float64{
	"efficientnet-b0": {1.0, 1.0, 224, 0.2, 0.2},
	"efficientnet-b1": {1.0, 1.1, 240, 0.2, 0.2},
	"efficientnet-b2": {1.1, 1.2, 260, 0.3, 0.2},
	"efficientnet-b3": {1.2, 1.4, 300, 0.3, 0.2},
	"efficientnet-b4": {1.4, 1.8, 380, 0.4, 0.2},
	"efficientnet-b5": {1.6, 2.2, 456, 0.4, 0.2},
	"efficientnet-b6": {1.8, 2.6, 528, 0.5, 0.2},
	"efficientnet-b7": {2.0, 3.1, 600, 0.5, 0.2},
}

// mbArgs is one row of EfficientNet's block table
// ("r1_k3_s11_e1_i32_o16_se0.25").
type mbArgs struct {
	repeat, kernel, stride, expand, in, out int
	se                                      float64
}

var efficientnetBlocks = []mbArgs{
	{1, 3, 1, 1, 32, 16, 0.25},
	{2, 3, 2, 6, 16, 24, 0.25},
	{2, 5, 2, 6, 24, 40, 0.25},
	{3, 3, 2, 6, 40, 80, 0.25},
	{3, 5, 1, 6, 80, 112, 0.25},
	{4, 5, 2, 6, 112, 192, 0.25},
	{1, 3, 1, 6, 192, 320, 0.25},
}

// EfficientNetConfig is MONAI's EfficientNetBN(model_name, spatial_dims=3,
// in_channels, num_classes) with batch norm (eps 1e-3, momentum 0.01).
type EfficientNetConfig struct {
	Model      string // "efficientnet-b0" … "efficientnet-b7"
	InChannels int    // zero means 1
	Classes    int    // required
	Seed       uint64
}

// EfficientNet is MONAI's EfficientNetBN (3-D) with its state-dict names
// (_conv_stem, _bn0, _blocks.<stack>.<block>.{_expand_conv, _bn0,
// _depthwise_conv, _bn1, _se_reduce, _se_expand, _project_conv, _bn2},
// _conv_head, _bn1, _fc).
//
// Like MONAI it pads TensorFlow-style ("SAME") with paddings computed once,
// at construction, from the model's nominal image size (224 for b0, 300
// for b3, …) halved at each stride, not from the actual input: the same
// weights on another input size give MONAI's numbers, not TensorFlow's.
type EfficientNet struct {
	Config   EfficientNetConfig
	Stem     *nn.Conv3d
	StemPad  [3][2]int
	BN0      *nn.BatchNorm
	Stacks   [][]*MBConv
	Head     *nn.Conv3d
	BN1      *nn.BatchNorm
	FC       *nn.Linear
	Dropout  float64
	training bool
	width    int
	stages   []stage
	scratch  scratch
}

// MBConv is MONAI's MBConvBlock: expansion, depthwise convolution, squeeze
// and excitation, projection, and an identity skip with drop-connect.
type MBConv struct {
	Expand, Depthwise, SEReduce, SEExpand, Project *nn.Conv3d // Expand nil when expand ratio 1
	BN0, BN1, BN2                                  *nn.BatchNorm
	DepthwisePad                                   [3][2]int
	Skip                                           bool
	DropConnect                                    float64
	training                                       bool
}

func roundFilters(filters int, width float64) int {
	const divisor = 8
	f := float64(filters) * width
	n := max(divisor, int(f+divisor/2)/divisor*divisor)
	if float64(n) < 0.9*f {
		n += divisor
	}
	return n
}

// samePad is MONAI's _get_same_padding_conv_nd for one axis: (before, after).
func samePad(size, k, stride int) [2]int {
	p := max((ceilDiv(size, stride)-1)*stride+k-size, 0)
	return [2]int{p / 2, p - p/2}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func newBNEff(c int) *nn.BatchNorm {
	b := newBN(c)
	b.Eps, b.Momentum = 1e-3, 0.01
	return b
}

// NewEfficientNet builds an EfficientNetBN with MONAI's initialisation.
func NewEfficientNet(c EfficientNetConfig) (*EfficientNet, error) {
	p, ok := efficientnetParams[c.Model]
	if !ok {
		return nil, fmt.Errorf("%w: %q (want efficientnet-b0 … efficientnet-b7)", ErrUnknownModel, c.Model)
	}
	if c.InChannels == 0 {
		c.InChannels = 1
	}
	if c.InChannels < 1 || c.Classes < 1 {
		return nil, fmt.Errorf("%w: EfficientNet needs InChannels ≥ 1 and Classes ≥ 1, got %d and %d", ErrConfig, c.InChannels, c.Classes)
	}
	width, depth, image, dropout, dropConnect := p[0], p[1], int(p[2]), p[3], p[4]
	// The presets fix every width but the stem's input and the classifier's
	// output; the rest stays below 7·10⁷ values (b7).
	if err := checkSize("EfficientNet", 7e7+float64(c.InChannels)*27*float64(roundFilters(32, width))+
		float64(c.Classes)*float64(roundFilters(1280, width)+1)); err != nil {
		return nil, err
	}
	r := nn.NewRNG(c.Seed)
	conv := func(in, out, k, stride, groups int, bias bool) *nn.Conv3d {
		std := math.Sqrt(2 / float64(k*k*k*out)) // MONAI: normal(0, sqrt(2/fan_out))
		return newConv(in, out, convSpec{k: cube(k), stride: cube(stride), groups: groups, bias: bias}, std, r)
	}
	m := &EfficientNet{Config: c, Dropout: dropout, training: true}
	stemOut := roundFilters(32, width)
	m.Stem = conv(c.InChannels, stemOut, 3, 2, 1, false)
	m.StemPad = [3][2]int{samePad(image, 3, 2), samePad(image, 3, 2), samePad(image, 3, 2)}
	if p := m.StemPad[0]; p[0] == p[1] {
		m.Stem.Options.Padding = cube(p[0])
		m.StemPad = [3][2]int{}
	}
	m.BN0 = newBNEff(stemOut)
	size := ceilDiv(image, 2)
	args := make([]mbArgs, len(efficientnetBlocks))
	total := 0
	for i, a := range efficientnetBlocks {
		a.in, a.out = roundFilters(a.in, width), roundFilters(a.out, width)
		a.repeat = int(math.Ceil(depth * float64(a.repeat)))
		args[i] = a
		total += a.repeat
	}
	idx := 0
	var last mbArgs
	for _, a := range args {
		var stack []*MBConv
		for j := range a.repeat {
			in, stride := a.in, a.stride
			if j > 0 {
				in, stride = a.out, 1
			}
			b := &MBConv{Skip: stride == 1 && in == a.out, DropConnect: dropConnect * float64(idx) / float64(total), training: true}
			mid := in * a.expand
			if a.expand != 1 {
				b.Expand = conv(in, mid, 1, 1, 1, false)
				b.BN0 = newBNEff(mid)
			}
			b.Depthwise = conv(mid, mid, a.kernel, stride, mid, false)
			pd := samePad(size, a.kernel, stride)
			b.DepthwisePad = [3][2]int{pd, pd, pd}
			if pd[0] == pd[1] { // symmetric: the convolution pads itself
				b.Depthwise.Options.Padding = cube(pd[0])
				b.DepthwisePad = [3][2]int{}
			}
			b.BN1 = newBNEff(mid)
			size = ceilDiv(size, stride)
			sq := max(1, int(float64(in)*a.se))
			b.SEReduce = conv(mid, sq, 1, 1, 1, true)
			b.SEExpand = conv(sq, mid, 1, 1, 1, true)
			b.Project = conv(mid, a.out, 1, 1, 1, false)
			b.BN2 = newBNEff(a.out)
			stack = append(stack, b)
			idx++
		}
		m.Stacks = append(m.Stacks, stack)
		last = a
	}
	headOut := roundFilters(1280, width)
	m.Head = conv(last.out, headOut, 1, 1, 1, false)
	m.BN1 = newBNEff(headOut)
	m.FC = nn.NewLinear(headOut, c.Classes, nn.LinearOptions{}, r)
	bound := 1 / math.Sqrt(float64(c.Classes))
	nn.InitUniform(m.FC.Weight, -bound, bound, r)
	nn.InitConst(m.FC.Bias, 0)
	m.width = headOut
	m.stages = append(m.stages, func(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
		return g.SiLU(bnAct(g, m.BN0, convSame(g, m.Stem, x, m.StemPad), nil, false))
	})
	for _, s := range m.Stacks {
		for _, b := range s {
			m.stages = append(m.stages, b.Forward)
		}
	}
	m.stages = append(m.stages, func(g *nn.Graph, y *nn.Tensor) *nn.Tensor {
		return g.SiLU(bnAct(g, m.BN1, m.Head.Forward(g, y), nil, false))
	}, globalAvg)
	return m, nil
}

// convSame applies c after the static SAME padding pad. Symmetric
// paddings were moved into the convolution at construction (pad is then
// zero); asymmetric ones are an explicit pad, as MONAI's ConstantPad.
func convSame(g *nn.Graph, c *nn.Conv3d, x *nn.Tensor, pad [3][2]int) *nn.Tensor {
	if pad != ([3][2]int{}) {
		x = g.Pad(x, [][2]int{{0, 0}, {0, 0}, pad[0], pad[1], pad[2]}, 0)
	}
	return c.Forward(g, x)
}

// Forward applies the block.
func (b *MBConv) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	y := x
	if b.Expand != nil {
		y = g.SiLU(bnAct(g, b.BN0, b.Expand.Forward(g, y), nil, false))
	}
	y = g.SiLU(bnAct(g, b.BN1, convSame(g, b.Depthwise, y, b.DepthwisePad), nil, false))
	if g.Err() != nil {
		return y
	}
	n, c := y.Shape[0], y.Shape[1]
	s := g.Reshape(globalAvg(g, y), n, c, 1, 1, 1)
	s = b.SEExpand.Forward(g, g.SiLU(b.SEReduce.Forward(g, s)))
	y = g.Mul(y, g.Sigmoid(s))
	y = b.Project.Forward(g, y)
	if !b.Skip {
		return bnAct(g, b.BN2, y, nil, false)
	}
	if b.training && b.DropConnect > 0 {
		y = dropConnect(g, bnAct(g, b.BN2, y, nil, false), b.DropConnect)
		return g.Add(y, x)
	}
	return bnAct(g, b.BN2, y, x, false)
}

// dropConnect zeroes whole samples with probability p and scales the
// others by 1/(1-p) (MONAI's drop_connect in training).
func dropConnect(g *nn.Graph, x *nn.Tensor, p float64) *nn.Tensor {
	if g.Err() != nil {
		return x
	}
	keep := 1 - p
	n := x.Shape[0]
	mask := nn.NewTensor(n, 1, 1, 1, 1)
	for i := range mask.Data {
		mask.Data[i] = float32(math.Floor(keep+g.RNG().Float64()) / keep)
	}
	return g.Mul(x, mask)
}

// dropConnectActive reports whether a block draws drop-connect masks.
func (m *EfficientNet) dropConnectActive() bool {
	for _, s := range m.Stacks {
		for _, b := range s {
			if b.training && b.DropConnect > 0 {
				return true
			}
		}
	}
	return false
}

// SetTraining switches drop-connect.
func (b *MBConv) SetTraining(on bool) { b.training = on }

// Visit names the block's tensors as MONAI.
func (b *MBConv) Visit(v *nn.Visitor) {
	v.Child("_expand_conv", b.Expand)
	v.Child("_bn0", b.BN0)
	v.Child("_depthwise_conv", b.Depthwise)
	v.Child("_bn1", b.BN1)
	v.Child("_se_reduce", b.SEReduce)
	v.Child("_se_expand", b.SEExpand)
	v.Child("_project_conv", b.Project)
	v.Child("_bn2", b.BN2)
}

// Embed returns the pooled swish(bn1(conv_head(·))) features, (N, EmbedDim()).
func (m *EfficientNet) Embed(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	if !checkInput(g, x, m.Config.InChannels, "EfficientNet") {
		return x
	}
	return runStages(g, x, &m.scratch, m.stages, m.dropConnectActive())
}

// FeatureMaps returns swish(bn1(head conv(·))), the input of the global
// average pool, (N, EmbedDim(), d, h, w): the maps Grad-CAM weighs.
func (m *EfficientNet) FeatureMaps(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	if !checkInput(g, x, m.Config.InChannels, "EfficientNet") {
		return x
	}
	return runStages(g, x, &m.scratch, m.stages[:len(m.stages)-1], m.dropConnectActive())
}

// EmbedFromMaps pools FeatureMaps' output: Embed(x) = EmbedFromMaps(FeatureMaps(x)).
func (m *EfficientNet) EmbedFromMaps(g *nn.Graph, maps *nn.Tensor) *nn.Tensor {
	return embedFromMaps(g, maps, m.width, "EfficientNet")
}

// Forward returns the logits (N, Classes); dropout acts in training only.
func (m *EfficientNet) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	e := m.Embed(g, x)
	if m.training && m.Dropout > 0 {
		e = g.Dropout(e, m.Dropout)
	}
	return m.FC.Forward(g, e)
}

// SetTraining switches the classifier's dropout.
func (m *EfficientNet) SetTraining(on bool) { m.training = on }

// EmbedDim is the width of the head convolution.
func (m *EfficientNet) EmbedDim() int { return m.width }

// Visit names the state dict as MONAI's EfficientNetBN.
func (m *EfficientNet) Visit(v *nn.Visitor) {
	v.Child("_conv_stem", m.Stem)
	v.Child("_bn0", m.BN0)
	v.Child("_blocks", effBlocks{m})
	v.Child("_conv_head", m.Head)
	v.Child("_bn1", m.BN1)
	v.Child("_fc", m.FC)
}

type effBlocks struct{ m *EfficientNet }

func (e effBlocks) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	for _, s := range e.m.Stacks {
		for _, b := range s {
			x = b.Forward(g, x)
		}
	}
	return x
}
func (e effBlocks) Visit(v *nn.Visitor) {
	idx := 0
	for i, s := range e.m.Stacks {
		v.Child(strconv.Itoa(i), effStack{s, idx})
		idx += len(s)
	}
}

type effStack struct {
	blocks []*MBConv
	first  int
}

func (s effStack) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	for _, b := range s.blocks {
		x = b.Forward(g, x)
	}
	return x
}
func (s effStack) Visit(v *nn.Visitor) {
	for i, b := range s.blocks {
		v.Child(strconv.Itoa(s.first+i), b)
	}
}
