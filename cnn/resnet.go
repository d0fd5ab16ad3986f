package cnn

import (
	"fmt"
	"strconv"

	"github.com/metasurv/metasurv/nn"
)

// Block is the residual block of a ResNet.
type Block int

const (
	// Basic is MONAI's ResNetBlock: two 3×3×3 convolutions (expansion 1).
	Basic Block = iota
	// Bottleneck is MONAI's ResNetBottleneck: 1×1×1, 3×3×3, 1×1×1
	// convolutions, the last widening by 4 (expansion 4).
	Bottleneck
)

// String returns MONAI's block name ("basic", "bottleneck").
func (b Block) String() string {
	switch b {
	case Basic:
		return "basic"
	case Bottleneck:
		return "bottleneck"
	}
	return "Block(" + strconv.Itoa(int(b)) + ")"
}

func (b Block) expansion() int {
	if b == Bottleneck {
		return 4
	}
	return 1
}

// Shortcut is how a ResNet block's identity path changes shape.
type Shortcut int

const (
	// ShortcutB is a 1×1×1 convolution and batch norm ("downsample.0/1"):
	// MONAI's default.
	ShortcutB Shortcut = iota
	// ShortcutA subsamples with the stride and pads the new channels with
	// zeros (no parameters); as in MONAI and MedicalNet the shortcut passes
	// no gradient (torch's out.data).
	ShortcutA
)

// String returns MONAI's shortcut_type ("A" or "B").
func (s Shortcut) String() string {
	if s == ShortcutA {
		return "A"
	}
	return "B"
}

// Geometry selects where a ResNet reduces resolution.
type Geometry int

const (
	// GeometryMONAI is MONAI's ResNet: layer2, layer3 and layer4 each start
	// with stride 2.
	GeometryMONAI Geometry = iota
	// GeometryMedicalNet is MedicalNet's (Med3D) ResNet: layer3 and layer4
	// keep stride 1 and dilate their 3×3×3 convolutions by 2 and 4. The
	// weights have the same names and shapes as MONAI's, so a checkpoint
	// does not say which geometry it was trained with: MedicalNet's released
	// weights need this one (see InspectResNet).
	GeometryMedicalNet
)

// String names the geometry ("MONAI" or "MedicalNet").
func (g Geometry) String() string {
	if g == GeometryMedicalNet {
		return "MedicalNet"
	}
	return "MONAI"
}

// ResNetConfig is MONAI's ResNet(...) signature; the zero value of every
// field is MONAI's default except where noted.
type ResNetConfig struct {
	Block  Block  // block='basic' (Basic) or 'bottleneck'
	Layers [4]int // blocks per stage (layers=[...]); required
	// BlockInplanes are the widths of the four stages (block_inplanes);
	// zero means MONAI's get_inplanes() = 64, 128, 256, 512.
	BlockInplanes [4]int
	// InChannels is n_input_channels; zero means 1 (MONAI's default is 3).
	InChannels int
	// Conv1TSize and Conv1TStride are the stem convolution's kernel
	// (conv1_t_size, zero = 7) and stride (conv1_t_stride, zero = 1, as
	// MONAI; MedicalNet and the peers' ResNet18 use 2).
	Conv1TSize, Conv1TStride [3]int
	NoMaxPool                bool     // no_max_pool
	Shortcut                 Shortcut // shortcut_type ('B' is the zero value)
	// WidenFactor scales BlockInplanes (widen_factor); zero means 1.
	WidenFactor float64
	// Classes is num_classes; zero means no classifier (feed_forward=False):
	// Forward then returns the embedding.
	Classes int
	// NoDownsampleBias is bias_downsample=False (MedicalNet's checkpoints).
	NoDownsampleBias bool
	Geometry         Geometry
	// Seed drives the random initialisation.
	Seed uint64
}

// ResNet is MONAI's ResNet (3-D) with MONAI's state-dict names: conv1, bn1,
// layer1…layer4 (blocks "0", "1", … with conv1, bn1, conv2, bn2[, conv3,
// bn3][, downsample.0, downsample.1]) and fc.
type ResNet struct {
	Config  ResNetConfig
	Conv1   *nn.Conv3d
	BN1     *nn.BatchNorm
	Layers  [4][]*ResBlock
	FC      *nn.Linear // nil without a classifier
	seqs    [4]*nn.Sequential
	outDim  int
	maxPool bool
	stages  []stage
	scratch scratch
}

// ResBlock is one residual block of a ResNet.
type ResBlock struct {
	Conv1, Conv2, Conv3 *nn.Conv3d // Conv3 only in bottleneck blocks
	BN1, BN2, BN3       *nn.BatchNorm
	Down                *nn.Sequential // shortcut B: conv, batch norm
	// shortcut A: subsample by padStride and zero-pad to padTo channels.
	padTo, padStride int
}

func (c *ResNetConfig) fill() error {
	if c.Block != Basic && c.Block != Bottleneck {
		return fmt.Errorf("%w: unknown ResNet block %v (want basic or bottleneck)", ErrConfig, c.Block)
	}
	for i, n := range c.Layers {
		if n < 1 {
			return fmt.Errorf("%w: ResNet layers %v: stage %d needs at least one block", ErrConfig, c.Layers, i+1)
		}
	}
	if c.BlockInplanes == [4]int{} {
		c.BlockInplanes = [4]int{64, 128, 256, 512}
	}
	if c.InChannels == 0 {
		c.InChannels = 1
	}
	if c.Conv1TSize == [3]int{} {
		c.Conv1TSize = cube(7)
	}
	if c.Conv1TStride == [3]int{} {
		c.Conv1TStride = cube(1)
	}
	if c.WidenFactor == 0 {
		c.WidenFactor = 1
	}
	if c.Shortcut != ShortcutA && c.Shortcut != ShortcutB {
		return fmt.Errorf("%w: unknown shortcut type %d (want A or B)", ErrConfig, c.Shortcut)
	}
	if c.Geometry != GeometryMONAI && c.Geometry != GeometryMedicalNet {
		return fmt.Errorf("%w: unknown geometry %d", ErrConfig, c.Geometry)
	}
	if c.InChannels < 0 || c.Classes < 0 || c.WidenFactor < 0 {
		return fmt.Errorf("%w: negative InChannels %d, Classes %d or WidenFactor %g", ErrConfig, c.InChannels, c.Classes, c.WidenFactor)
	}
	for i := range 3 {
		if c.Conv1TSize[i] < 1 || c.Conv1TStride[i] < 1 {
			return fmt.Errorf("%w: conv1_t_size %v and conv1_t_stride %v must be positive", ErrConfig, c.Conv1TSize, c.Conv1TStride)
		}
	}
	for i, p := range c.BlockInplanes {
		if int(float64(p)*c.WidenFactor) < 1 {
			return fmt.Errorf("%w: stage %d has %d×%g channels", ErrConfig, i+1, p, c.WidenFactor)
		}
	}
	return nil
}

// NewResNet builds a ResNet with random weights (MONAI's initialisation:
// Kaiming-normal fan-out convolutions, unit batch norms, zero biases).
func NewResNet(cfg ResNetConfig) (*ResNet, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if err := checkSize("ResNet", resnetParams(cfg)); err != nil {
		return nil, err
	}
	r := nn.NewRNG(cfg.Seed)
	var planes [4]int
	for i, p := range cfg.BlockInplanes {
		planes[i] = int(float64(p) * cfg.WidenFactor)
	}
	m := &ResNet{Config: cfg, maxPool: !cfg.NoMaxPool}
	k := cfg.Conv1TSize
	stem := convSpec{k: k, stride: cfg.Conv1TStride, pad: [3]int{k[0] / 2, k[1] / 2, k[2] / 2}}
	m.Conv1 = newConv(cfg.InChannels, planes[0], stem, kaimingFanOut(planes[0], k), r)
	m.BN1 = newBN(planes[0])
	in := planes[0]
	exp := cfg.Block.expansion()
	for s := range 4 {
		stride, dil := 2, 1
		if s == 0 {
			stride = 1
		}
		if cfg.Geometry == GeometryMedicalNet && s >= 2 {
			stride, dil = 1, 2*(s-1) // layer3: 2, layer4: 4
		}
		seq := nn.NewSequential()
		for b := range cfg.Layers[s] {
			st := 1
			if b == 0 {
				st = stride
			}
			blk := newResBlock(cfg, in, planes[s], st, dil, r)
			m.Layers[s] = append(m.Layers[s], blk)
			seq.Layers = append(seq.Layers, blk)
			in = planes[s] * exp
		}
		m.seqs[s] = seq
	}
	m.outDim = in
	if cfg.Classes > 0 {
		m.FC = newLinear(in, cfg.Classes, r)
	}
	m.stages = append(m.stages, m.stem)
	for _, l := range m.Layers {
		for _, b := range l {
			m.stages = append(m.stages, b.Forward)
		}
	}
	m.stages = append(m.stages, globalAvg)
	return m, nil
}

func (m *ResNet) stem(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	y := m.Conv1.Forward(g, x)
	if m.maxPool {
		return bnReLUMaxPool(g, m.BN1, y, poolSpec{k: cube(3), stride: cube(2), pad: cube(1)})
	}
	return bnAct(g, m.BN1, y, nil, true)
}

func newResBlock(cfg ResNetConfig, in, planes, stride, dil int, r *nn.RNG) *ResBlock {
	b := &ResBlock{}
	exp := cfg.Block.expansion()
	out := planes * exp
	k3 := convSpec{k: cube(3), stride: cube(stride), pad: cube(dil), dil: cube(dil)}
	if cfg.Block == Basic {
		b.Conv1 = newConv(in, planes, k3, kaimingFanOut(planes, cube(3)), r)
		b.BN1 = newBN(planes)
		b.Conv2 = newConv(planes, planes, convSpec{k: cube(3), pad: cube(dil), dil: cube(dil)}, kaimingFanOut(planes, cube(3)), r)
		b.BN2 = newBN(planes)
	} else {
		b.Conv1 = newConv(in, planes, convSpec{k: cube(1)}, kaimingFanOut(planes, cube(1)), r)
		b.BN1 = newBN(planes)
		b.Conv2 = newConv(planes, planes, k3, kaimingFanOut(planes, cube(3)), r)
		b.BN2 = newBN(planes)
		b.Conv3 = newConv(planes, out, convSpec{k: cube(1)}, kaimingFanOut(out, cube(1)), r)
		b.BN3 = newBN(out)
	}
	if stride != 1 || in != out {
		if cfg.Shortcut == ShortcutA {
			b.padTo, b.padStride = out, stride
		} else {
			c := newConv(in, out, convSpec{k: cube(1), stride: cube(stride), bias: !cfg.NoDownsampleBias}, kaimingFanOut(out, cube(1)), r)
			b.Down = nn.NewSequential(c, newBN(out))
		}
	}
	return b
}

// Forward maps x (N, C, D, H, W) to the block's output.
func (b *ResBlock) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	res := x
	switch {
	case b.Down != nil:
		c, bn := b.Down.Layers[0].(*nn.Conv3d), b.Down.Layers[1].(*nn.BatchNorm)
		res = bnAct(g, bn, c.Forward(g, x), nil, false)
	case b.padTo > 0:
		g.NoGrad(func() { res = shortcutA(g, x, b.padTo, b.padStride) })
	}
	y := bnAct(g, b.BN1, b.Conv1.Forward(g, x), nil, true)
	if b.Conv3 == nil {
		return bnAct(g, b.BN2, b.Conv2.Forward(g, y), res, true)
	}
	y = bnAct(g, b.BN2, b.Conv2.Forward(g, y), nil, true)
	return bnAct(g, b.BN3, b.Conv3.Forward(g, y), res, true)
}

// shortcutA is MONAI's _downsample_basic_block: AvgPool(kernel 1, stride)
// then zero channels up to planes.
func shortcutA(g *nn.Graph, x *nn.Tensor, planes, stride int) *nn.Tensor {
	if stride != 1 {
		x = avgPool(g, x, poolSpec{k: cube(1), stride: cube(stride)})
	}
	if len(x.Shape) != 5 || x.Shape[1] > planes {
		return x // the graph's shape checks report the mismatch downstream
	}
	return g.Pad(x, [][2]int{{0, 0}, {0, planes - x.Shape[1]}}, 0)
}

// Visit names the block's tensors as MONAI does.
func (b *ResBlock) Visit(v *nn.Visitor) {
	v.Child("conv1", b.Conv1)
	v.Child("bn1", b.BN1)
	v.Child("conv2", b.Conv2)
	v.Child("bn2", b.BN2)
	v.Child("conv3", b.Conv3)
	v.Child("bn3", b.BN3)
	v.Child("downsample", b.Down)
}

// Embed returns the globally pooled output of layer4, (N, EmbedDim()).
func (m *ResNet) Embed(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	if !checkInput(g, x, m.Config.InChannels, "ResNet") {
		return x
	}
	return runStages(g, x, &m.scratch, m.stages, false)
}

// FeatureMaps returns layer4's output, the input of the global average
// pool, (N, EmbedDim(), d, h, w): the maps Grad-CAM weighs.
func (m *ResNet) FeatureMaps(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	if !checkInput(g, x, m.Config.InChannels, "ResNet") {
		return x
	}
	return runStages(g, x, &m.scratch, m.stages[:len(m.stages)-1], false)
}

// EmbedFromMaps pools FeatureMaps' output: Embed(x) = EmbedFromMaps(FeatureMaps(x)).
func (m *ResNet) EmbedFromMaps(g *nn.Graph, maps *nn.Tensor) *nn.Tensor {
	return embedFromMaps(g, maps, m.outDim, "ResNet")
}

// Forward returns the logits (N, Classes), or the embedding when the model
// has no classifier.
func (m *ResNet) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	e := m.Embed(g, x)
	if m.FC == nil {
		return e
	}
	return m.FC.Forward(g, e)
}

// EmbedDim is the width of layer4's output.
func (m *ResNet) EmbedDim() int { return m.outDim }

// Visit names the state dict as MONAI's ResNet.
func (m *ResNet) Visit(v *nn.Visitor) {
	v.Child("conv1", m.Conv1)
	v.Child("bn1", m.BN1)
	for i, s := range m.seqs {
		v.Child("layer"+strconv.Itoa(i+1), s)
	}
	v.Child("fc", m.FC)
}

// resnetDepths are MONAI's resnet10…resnet200 (block, layers).
var resnetDepths = map[int]struct {
	block  Block
	layers [4]int
}{
	10:  {Basic, [4]int{1, 1, 1, 1}},
	18:  {Basic, [4]int{2, 2, 2, 2}},
	34:  {Basic, [4]int{3, 4, 6, 3}},
	50:  {Bottleneck, [4]int{3, 4, 6, 3}},
	101: {Bottleneck, [4]int{3, 4, 23, 3}},
	152: {Bottleneck, [4]int{3, 8, 36, 3}},
	200: {Bottleneck, [4]int{3, 24, 36, 3}},
}

// ResNetDepth returns the configuration of MONAI's resnet<depth>(...)
// (depth 10, 18, 34, 50, 101, 152 or 200) with the other fields at their
// defaults.
func ResNetDepth(depth int) (ResNetConfig, error) {
	d, ok := resnetDepths[depth]
	if !ok {
		return ResNetConfig{}, fmt.Errorf("%w: no resnet%d (want 10, 18, 34, 50, 101, 152 or 200)", ErrUnknownModel, depth)
	}
	return ResNetConfig{Block: d.block, Layers: d.layers}, nil
}

// MedicalNetConfig returns the ResNet that MedicalNet's (Med3D) released
// resnet_<depth>.pth weights need: one input channel, stride-2 stem with
// max pooling, dilated layer3/layer4 (GeometryMedicalNet), shortcut A for
// depths 18 and 34 and B without bias otherwise, no classifier. Set
// InChannels and Classes afterwards for transfer learning.
func MedicalNetConfig(depth int) (ResNetConfig, error) {
	c, err := ResNetDepth(depth)
	if err != nil {
		return c, err
	}
	c.InChannels = 1
	c.Conv1TStride = cube(2)
	c.Geometry = GeometryMedicalNet
	c.NoDownsampleBias = true
	if depth == 18 || depth == 34 {
		c.Shortcut = ShortcutA
	}
	return c, nil
}
