package cnn

import (
	"fmt"
	"strconv"

	"github.com/metasurv/metasurv/nn"
)

// densenetPresets are MONAI's DenseNet121/169/201/264 block configurations.
var densenetPresets = map[string][]int{
	"densenet121": {6, 12, 24, 16},
	"densenet169": {6, 12, 32, 32},
	"densenet201": {6, 12, 48, 32},
	"densenet264": {6, 12, 64, 48},
}

// DenseNetConfig is MONAI's DenseNet(...) signature (spatial_dims=3,
// act relu, norm batch). Zero fields mean MONAI's defaults.
type DenseNetConfig struct {
	InChannels   int   // in_channels; zero means 1
	Classes      int   // out_channels; required
	InitFeatures int   // init_features, zero = 64
	GrowthRate   int   // growth_rate, zero = 32
	BlockConfig  []int // block_config, nil = (6, 12, 24, 16)
	BNSize       int   // bn_size, zero = 4
	DropoutProb  float64
	Seed         uint64
}

// DenseNet is MONAI's DenseNet with its state-dict names: features.conv0,
// features.norm0, features.denseblock<i>.denselayer<j>.layers.{norm1,
// conv1, norm2, conv2}, features.transition<i>.{norm, conv},
// features.norm5 and class_layers.out.
type DenseNet struct {
	Config  DenseNetConfig
	Conv0   *nn.Conv3d
	Norm0   *nn.BatchNorm
	Blocks  [][]*DenseLayer
	Trans   []*Transition // one fewer than Blocks
	Norm5   *nn.BatchNorm
	Out     *nn.Linear
	width   int
	stages  []stage
	scratch scratch
}

// DenseLayer is MONAI's _DenseLayer: BN-ReLU-Conv1×1-BN-ReLU-Conv3×3 whose
// output is concatenated to its input.
type DenseLayer struct {
	Norm1, Norm2 *nn.BatchNorm
	Conv1, Conv2 *nn.Conv3d
	Dropout      float64
	training     bool
}

// Transition is MONAI's _Transition: BN-ReLU-Conv1×1-AvgPool(2).
type Transition struct {
	Norm *nn.BatchNorm
	Conv *nn.Conv3d
}

// NewDenseNet builds a DenseNet with MONAI's initialisation.
func NewDenseNet(c DenseNetConfig) (*DenseNet, error) {
	if c.InChannels == 0 {
		c.InChannels = 1
	}
	if c.InitFeatures == 0 {
		c.InitFeatures = 64
	}
	if c.GrowthRate == 0 {
		c.GrowthRate = 32
	}
	if c.BlockConfig == nil {
		c.BlockConfig = []int{6, 12, 24, 16}
	}
	if c.BNSize == 0 {
		c.BNSize = 4
	}
	if c.InChannels < 1 || c.Classes < 1 || c.InitFeatures < 1 || c.GrowthRate < 1 || c.BNSize < 1 || len(c.BlockConfig) == 0 || !(c.DropoutProb >= 0 && c.DropoutProb < 1) {
		return nil, fmt.Errorf("%w: DenseNet %+v", ErrConfig, c)
	}
	for _, n := range c.BlockConfig {
		if n < 1 {
			return nil, fmt.Errorf("%w: DenseNet block_config %v needs positive entries", ErrConfig, c.BlockConfig)
		}
	}
	if err := checkSize("DenseNet", densenetParams(c)); err != nil {
		return nil, err
	}
	c.BlockConfig = append([]int(nil), c.BlockConfig...)
	r := nn.NewRNG(c.Seed)
	conv := func(in, out, k, pad int) *nn.Conv3d {
		return newConv(in, out, convSpec{k: cube(k), pad: cube(pad)}, kaimingFanIn(in, 1, cube(k)), r)
	}
	m := &DenseNet{Config: c}
	m.Conv0 = newConv(c.InChannels, c.InitFeatures, convSpec{k: cube(7), stride: cube(2), pad: cube(3)}, kaimingFanIn(c.InChannels, 1, cube(7)), r)
	m.Norm0 = newBN(c.InitFeatures)
	ch := c.InitFeatures
	for i, n := range c.BlockConfig {
		var layers []*DenseLayer
		for range n {
			mid := c.BNSize * c.GrowthRate
			layers = append(layers, &DenseLayer{
				Norm1: newBN(ch), Conv1: conv(ch, mid, 1, 0),
				Norm2: newBN(mid), Conv2: conv(mid, c.GrowthRate, 3, 1),
				Dropout: c.DropoutProb, training: true,
			})
			ch += c.GrowthRate
		}
		m.Blocks = append(m.Blocks, layers)
		if i < len(c.BlockConfig)-1 {
			m.Trans = append(m.Trans, &Transition{Norm: newBN(ch), Conv: conv(ch, ch/2, 1, 0)})
			ch /= 2
		}
	}
	m.Norm5 = newBN(ch)
	m.Out = newLinear(ch, c.Classes, r)
	m.width = ch
	m.stages = append(m.stages, func(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
		return bnReLUMaxPool(g, m.Norm0, m.Conv0.Forward(g, x), poolSpec{k: cube(3), stride: cube(2), pad: cube(1)})
	})
	for i, blk := range m.Blocks {
		m.stages = append(m.stages, denseBlock(blk).Forward)
		if i < len(m.Trans) {
			m.stages = append(m.stages, m.Trans[i].Forward)
		}
	}
	m.stages = append(m.stages, func(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
		return bnAct(g, m.Norm5, x, nil, true)
	}, globalAvg)
	return m, nil
}

// Forward adds the layer's new features to x (N, C+growth, ...).
func (l *DenseLayer) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	return g.Concat(1, x, l.newFeatures(g, x))
}

func (l *DenseLayer) newFeatures(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	y := bnAct(g, l.Norm1, x, nil, true)
	y = bnAct(g, l.Norm2, l.Conv1.Forward(g, y), nil, true)
	y = l.Conv2.Forward(g, y)
	if l.Dropout > 0 && l.training {
		y = g.Dropout(y, l.Dropout)
	}
	return y
}

// SetTraining switches the layer's dropout.
func (l *DenseLayer) SetTraining(on bool) { l.training = on }

// Visit names the layer's tensors as MONAI (under "layers").
func (l *DenseLayer) Visit(v *nn.Visitor) { v.Child("layers", denseLayers{l}) }

type denseLayers struct{ l *DenseLayer }

func (d denseLayers) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor { return d.l.newFeatures(g, x) }
func (d denseLayers) Visit(v *nn.Visitor) {
	v.Child("norm1", d.l.Norm1)
	v.Child("conv1", d.l.Conv1)
	v.Child("norm2", d.l.Norm2)
	v.Child("conv2", d.l.Conv2)
}

// Forward halves the channels and the resolution. MONAI pools after the
// 1×1×1 convolution; both are linear maps acting on different axes (the
// pool's weights sum to one), so pooling first gives the same values up
// to rounding with ⅛ of the convolution's work and memory, and lets the
// pool fuse with the normalisation (the full-resolution activation is
// never stored in inference).
func (t *Transition) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	return t.Conv.Forward(g, bnReLUAvgPool(g, t.Norm, x, poolSpec{k: cube(2), stride: cube(2)}))
}

// Visit names norm and conv.
func (t *Transition) Visit(v *nn.Visitor) { v.Child("norm", t.Norm); v.Child("conv", t.Conv) }

// Embed returns relu(norm5(features)) globally pooled, (N, EmbedDim()).
func (m *DenseNet) Embed(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	if !checkInput(g, x, m.Config.InChannels, "DenseNet") {
		return x
	}
	return runStages(g, x, &m.scratch, m.stages, m.random())
}

func (m *DenseNet) random() bool {
	return m.Config.DropoutProb > 0 && len(m.Blocks) > 0 && m.Blocks[0][0].training
}

// FeatureMaps returns relu(norm5(features)), the input of the global
// average pool, (N, EmbedDim(), d, h, w): the maps Grad-CAM weighs.
func (m *DenseNet) FeatureMaps(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	if !checkInput(g, x, m.Config.InChannels, "DenseNet") {
		return x
	}
	return runStages(g, x, &m.scratch, m.stages[:len(m.stages)-1], m.random())
}

// EmbedFromMaps pools FeatureMaps' output: Embed(x) = EmbedFromMaps(FeatureMaps(x)).
func (m *DenseNet) EmbedFromMaps(g *nn.Graph, maps *nn.Tensor) *nn.Tensor {
	return embedFromMaps(g, maps, m.width, "DenseNet")
}

// Forward returns the logits (N, Classes).
func (m *DenseNet) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	return m.Out.Forward(g, m.Embed(g, x))
}

// EmbedDim is the number of channels after norm5.
func (m *DenseNet) EmbedDim() int { return m.width }

// Visit names the state dict as MONAI's DenseNet.
func (m *DenseNet) Visit(v *nn.Visitor) {
	v.Child("features", denseFeatures{m})
	v.Child("class_layers", denseHead{m})
}

type denseFeatures struct{ m *DenseNet }

func (f denseFeatures) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	return g.SetErr(fmt.Errorf("%w: call DenseNet.Forward, not its features", ErrInput))
}
func (f denseFeatures) Visit(v *nn.Visitor) {
	m := f.m
	v.Child("conv0", m.Conv0)
	v.Child("norm0", m.Norm0)
	for i, blk := range m.Blocks {
		v.Child("denseblock"+strconv.Itoa(i+1), denseBlock(blk))
		if i < len(m.Trans) {
			v.Child("transition"+strconv.Itoa(i+1), m.Trans[i])
		}
	}
	v.Child("norm5", m.Norm5)
}

// denseBlock is MONAI's _DenseBlock: each layer's features are
// concatenated to its input.
type denseBlock []*DenseLayer

// Forward returns the block's input followed by every layer's features
// (N, C+len(b)·growth, ...). In inference (evaluation mode, nothing
// recorded) it writes them in place (infer); otherwise each layer
// concatenates its features to a new tensor, which autograd and
// training-mode batch statistics need.
func (b denseBlock) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	if g.Recording() || b.training() || g.Err() != nil {
		for _, l := range b {
			x = l.Forward(g, x)
		}
		return x
	}
	if c := b[0].Conv1.Weight.Shape[1]; len(x.Shape) != 5 || x.Shape[1] != c {
		return g.SetErr(fmt.Errorf("%w: dense block takes (N, %d, D, H, W), got %v", ErrInput, c, x.Shape))
	}
	return b.infer(g, x)
}

// training reports whether a layer normalises with batch statistics or
// drops features (then the samples of a batch are not independent).
func (b denseBlock) training() bool {
	for _, l := range b {
		if (l.training && l.Dropout > 0) || l.Norm1.Training || l.Norm2.Training {
			return true
		}
	}
	return false
}

// infer is the block's inference pass without concatenation copies: the
// block's output buffer (all channels) is allocated once, the input copied
// into its first channels, and each layer reads the channels written so far
// — one sample's channel prefix is contiguous in the channels-first layout —
// and writes its growth channels after them. The layers share two scratch
// buffers: the normalised prefix (recomputed by every layer, as in MONAI,
// where norm1 sees the whole concatenation; sized for the last layer) and
// the bottleneck, normalised in place. The prefix is normalised sample by
// sample (evaluation statistics) into one contiguous tensor, so that the
// convolutions still run over the whole batch; conv2 writes straight into
// the block for one sample, or else into a scratch tensor copied into each
// sample's slab (a batch of four costs main's CPU time at 0.57× its memory).
func (b denseBlock) infer(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	n, c0, d, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], x.Shape[4]
	vol := d * h * w
	growth, mid := b[0].Conv2.Weight.Shape[0], b[0].Conv1.Weight.Shape[0]
	cf := c0 + len(b)*growth
	out := g.Alloc(n, cf, d, h, w)
	toSlabs(out.Data, x.Data, n, cf, 0, c0, vol)
	norm := g.Alloc(n, (cf-growth)*vol)
	bottleneck := g.Alloc(n, mid, d, h, w)
	var fresh *nn.Tensor // conv2's output when the batch has several samples
	if n > 1 {
		fresh = g.Alloc(n, growth, d, h, w)
	}
	for i, l := range b {
		c := c0 + i*growth
		y := g.View(norm, 0, n, c, d, h, w)
		for s := range n {
			bnReLUInto(g, l.Norm1, g.View(out, s*cf*vol, 1, c, d, h, w), g.View(y, s*c*vol, 1, c, d, h, w))
		}
		z := bnReLUInto(g, l.Norm2, convInto(g, l.Conv1, y, bottleneck), bottleneck)
		if n == 1 {
			convInto(g, l.Conv2, z, g.View(out, c*vol, 1, growth, d, h, w))
			continue
		}
		if f := convInto(g, l.Conv2, z, fresh); g.Err() == nil {
			toSlabs(out.Data, f.Data, n, cf, c, growth, vol)
		}
	}
	return out
}

// toSlabs copies src (n samples of k channels of vol values) into channels
// [c, c+k) of each sample of dst (n samples of cf channels).
func toSlabs(dst, src []float32, n, cf, c, k, vol int) {
	for s := range n {
		copy(dst[(s*cf+c)*vol:(s*cf+c+k)*vol], src[s*k*vol:(s+1)*k*vol])
	}
}

// Visit names the layers as MONAI (denselayer1, ...).
func (b denseBlock) Visit(v *nn.Visitor) {
	for j, l := range b {
		v.Child("denselayer"+strconv.Itoa(j+1), l)
	}
}

type denseHead struct{ m *DenseNet }

func (h denseHead) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	return h.m.Out.Forward(g, globalAvg(g, g.ReLU(x)))
}
func (h denseHead) Visit(v *nn.Visitor) { v.Child("out", h.m.Out) }

// DenseNetBlocks returns the block configuration of a named DenseNet
// ("densenet121", "densenet169", "densenet201", "densenet264"), or nil.
func DenseNetBlocks(name string) []int {
	b := densenetPresets[name]
	if b == nil {
		return nil
	}
	return append([]int(nil), b...)
}
