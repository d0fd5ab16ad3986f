package modelspec

import (
	"fmt"
	"strings"

	"github.com/metasurv/metasurv/cnn"
	"github.com/metasurv/metasurv/internal/pycall"
	"github.com/metasurv/metasurv/nn"
)

// The MONAI CNN constructors: ResNet, resnet10…resnet200, DenseNet,
// DenseNet121/169/201/264 (and their densenet/Densenet aliases), SENet,
// SENet154, SEResNet50/101/152, SEResNext50/101 and EfficientNetBN.

func init() {
	Register("ResNet", buildResNet)
	for _, d := range []int{10, 18, 34, 50, 101, 152, 200} {
		Register(fmt.Sprintf("resnet%d", d), func(c *pycall.Call) (*Model, error) { return buildResNetDepth(c, d) })
	}
	Register("DenseNet", func(c *pycall.Call) (*Model, error) { return buildDenseNet(c, "") })
	for _, n := range []string{"121", "169", "201", "264"} {
		for _, prefix := range []string{"DenseNet", "densenet", "Densenet"} {
			Register(prefix+n, func(c *pycall.Call) (*Model, error) { return buildDenseNet(c, "densenet"+n) })
		}
	}
	Register("SENet", func(c *pycall.Call) (*Model, error) { return buildSENet(c, "") })
	for name, preset := range map[string]string{
		"SENet154": "senet154", "SEResNet50": "seresnet50", "SEResNet101": "seresnet101", "SEResNet152": "seresnet152",
		"SEResNeXt50": "seresnext50", "SEResNext50": "seresnext50", "SEResNeXt101": "seresnext101", "SEResNext101": "seresnext101",
	} {
		Register(name, func(c *pycall.Call) (*Model, error) { return buildSENet(c, preset) })
	}
	Register("EfficientNetBN", buildEfficientNet)
}

// logits gives a CNN's outputs: "embed", the penultimate features (the
// input of the final Linear), and "logits". In evaluation mode a CNN's
// Forward is its head applied to Embed, so both come from one pass.
func logits(m nn.Backbone) *Model {
	var head nn.Module
	switch c := m.(type) {
	case *cnn.ResNet:
		if c.FC != nil { // feed_forward=False: the logits are the embedding
			head = c.FC
		}
	case *cnn.DenseNet:
		head = c.Out
	case *cnn.SENet:
		head = c.LastLinear
	case *cnn.EfficientNet:
		head = c.FC
	default:
		return &Model{Module: m, Outputs: func(g *nn.Graph, x *nn.Tensor) map[string]*nn.Tensor {
			return map[string]*nn.Tensor{"logits": m.Forward(g, x), "embed": m.Embed(g, x)}
		}}
	}
	return &Model{Module: m, Outputs: func(g *nn.Graph, x *nn.Tensor) map[string]*nn.Tensor {
		e := m.Embed(g, x)
		out := e
		if head != nil {
			out = head.Forward(g, e)
		}
		return map[string]*nn.Tensor{"logits": out, "embed": e}
	}}
}

// check3D records an error unless spatial_dims is 3 (the models are 3-D).
func check3D(a *pycall.Args) {
	if d := a.Int("spatial_dims", 3); d != 3 {
		a.Fail("spatial_dims=%d: only 3-D models are implemented", d)
	}
}

// checkReLU accepts MONAI's default activation only.
func checkReLU(a *pycall.Args, name string) {
	if !a.Has(name) {
		return
	}
	v := a.Value(name)
	if l, ok := v.([]pycall.Value); ok && len(l) > 0 {
		v = l[0]
	}
	if s, ok := v.(string); !ok || !strings.EqualFold(s, "relu") {
		a.Fail("%s=%s: only relu is implemented", name, pycall.Repr(a.Value(name)))
	}
}

// checkBatchNorm accepts norm="batch" (MONAI's default) only.
func checkBatchNorm(a *pycall.Args, name string) {
	if !a.Has(name) {
		return
	}
	v := a.Value(name)
	if l, ok := v.([]pycall.Value); ok && len(l) > 0 {
		v = l[0]
	}
	if s, ok := v.(string); !ok || !strings.EqualFold(s, "batch") {
		a.Fail("%s=%s: only batch norm is implemented", name, pycall.Repr(a.Value(name)))
	}
}

func checkNotPretrained(a *pycall.Args) {
	if a.Bool("pretrained", false) {
		a.Fail("pretrained=True: weights are not downloaded; load a checkpoint instead")
	}
	a.Bool("progress", true)
}

var resnetKwargs = []string{"spatial_dims", "n_input_channels", "conv1_t_size", "conv1_t_stride", "no_max_pool",
	"shortcut_type", "widen_factor", "num_classes", "feed_forward", "bias_downsample", "act"}

// resnetCommon reads the ResNet arguments other than block, layers and
// block_inplanes into cfg.
func resnetCommon(a *pycall.Args, cfg *cnn.ResNetConfig) {
	check3D(a)
	checkReLU(a, "act")
	cfg.InChannels = a.PositiveInt("n_input_channels", 3)
	if cfg.InChannels < 1 {
		a.Fail("n_input_channels=%d must be positive", cfg.InChannels)
	}
	k := a.Ints("conv1_t_size", 3, []int{7, 7, 7})
	s := a.Ints("conv1_t_stride", 3, []int{1, 1, 1})
	for i := range min(len(k), len(s)) {
		if k[i] < 1 || s[i] < 1 {
			a.Fail("conv1_t_size=%v, conv1_t_stride=%v: want positive sizes", k, s)
			break
		}
	}
	if len(k) == 3 && len(s) == 3 {
		cfg.Conv1TSize = [3]int{k[0], k[1], k[2]}
		cfg.Conv1TStride = [3]int{s[0], s[1], s[2]}
	}
	cfg.NoMaxPool = a.Bool("no_max_pool", false)
	switch st := a.String("shortcut_type", "B"); st {
	case "A":
		cfg.Shortcut = cnn.ShortcutA
	case "B":
		cfg.Shortcut = cnn.ShortcutB
	default:
		a.Fail("shortcut_type=%q: want 'A' or 'B'", st)
	}
	cfg.WidenFactor = a.Float("widen_factor", 1)
	if !(cfg.WidenFactor > 0) {
		a.Fail("widen_factor=%g: want a positive factor", cfg.WidenFactor)
	}
	cfg.Classes = a.Int("num_classes", 400)
	if !a.Bool("feed_forward", true) {
		cfg.Classes = 0
	} else if cfg.Classes < 1 {
		a.Fail("num_classes=%d must be positive", cfg.Classes)
	}
	cfg.NoDownsampleBias = !a.Bool("bias_downsample", true)
}

func buildResNet(c *pycall.Call) (*Model, error) {
	a := pycall.Bind(c, append([]string{"block", "layers", "block_inplanes"}, resnetKwargs...)...)
	a.Require("block", "layers", "block_inplanes")
	var cfg cnn.ResNetConfig
	switch b := a.String("block", "basic"); b {
	case "basic", "ResNetBlock":
		cfg.Block = cnn.Basic
	case "bottleneck", "ResNetBottleneck":
		cfg.Block = cnn.Bottleneck
	default:
		a.Fail("block=%q: want 'basic' or 'bottleneck'", b)
	}
	if l := a.Ints("layers", 4, nil); l != nil {
		cfg.Layers = [4]int(l)
	}
	if p := a.Ints("block_inplanes", 4, nil); p != nil {
		cfg.BlockInplanes = [4]int(p)
	}
	return newResNet(a, cfg)
}

// newResNet applies the arguments every ResNet constructor shares and
// builds the network.
func newResNet(a *pycall.Args, cfg cnn.ResNetConfig) (*Model, error) {
	resnetCommon(a, &cfg)
	if err := a.Err(); err != nil {
		return nil, err
	}
	m, err := cnn.NewResNet(cfg)
	if err != nil {
		return nil, err
	}
	return logits(m), nil
}

func buildResNetDepth(c *pycall.Call, depth int) (*Model, error) {
	a := pycall.Bind(c, append([]string{"pretrained", "progress"}, resnetKwargs...)...)
	checkNotPretrained(a)
	cfg, err := cnn.ResNetDepth(depth)
	if err != nil {
		return nil, err
	}
	return newResNet(a, cfg)
}

func buildDenseNet(c *pycall.Call, preset string) (*Model, error) {
	var a *pycall.Args
	if preset == "" {
		a = pycall.Bind(c, "spatial_dims", "in_channels", "out_channels", "init_features", "growth_rate", "block_config", "bn_size", "act", "norm", "dropout_prob")
	} else {
		a = pycall.Bind(c, "spatial_dims", "in_channels", "out_channels", "init_features", "growth_rate", "block_config", "pretrained", "progress", "bn_size", "act", "norm", "dropout_prob")
		checkNotPretrained(a)
	}
	a.Require("spatial_dims", "in_channels", "out_channels")
	check3D(a)
	checkReLU(a, "act")
	checkBatchNorm(a, "norm")
	cfg := cnn.DenseNetConfig{
		InChannels:   a.PositiveInt("in_channels", 1),
		Classes:      a.PositiveInt("out_channels", 1),
		InitFeatures: a.PositiveInt("init_features", 64),
		GrowthRate:   a.PositiveInt("growth_rate", 32),
		BlockConfig:  a.Ints("block_config", 0, cnn.DenseNetBlocks(preset)),
		BNSize:       a.PositiveInt("bn_size", 4),
		DropoutProb:  a.Float("dropout_prob", 0),
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	m, err := cnn.NewDenseNet(cfg)
	if err != nil {
		return nil, err
	}
	return logits(m), nil
}

func buildSENet(c *pycall.Call, preset string) (*Model, error) {
	common := []string{"spatial_dims", "in_channels", "num_classes", "dropout_prob", "dropout_dim", "inplanes", "downsample_kernel_size", "input_3x3"}
	var a *pycall.Args
	// MONAI's SENet defaults (SENet154's).
	def := cnn.SENetConfig{Block: cnn.SEBottleneck, DropoutProb: 0.2, Inplanes: 128, DownsampleKernelSize: 3, Input3x3: true}
	if preset == "" {
		a = pycall.Bind(c, "spatial_dims", "in_channels", "block", "layers", "groups", "reduction", "dropout_prob", "dropout_dim",
			"inplanes", "downsample_kernel_size", "input_3x3", "num_classes")
		a.Require("spatial_dims", "in_channels", "block", "layers", "groups", "reduction")
		switch b := a.String("block", ""); b {
		case "SEBottleneck", "se_bottleneck":
			def.Block = cnn.SEBottleneck
		case "SEResNetBottleneck", "se_resnet_bottleneck":
			def.Block = cnn.SEResNetBottleneck
		case "SEResNeXtBottleneck", "se_resnetxt_bottleneck":
			def.Block = cnn.SEResNeXtBottleneck
		default:
			a.Fail("block=%s: want SEBottleneck, SEResNetBottleneck or SEResNeXtBottleneck", b)
		}
	} else {
		p, err := cnn.SENetPreset(preset)
		if err != nil {
			return nil, err
		}
		def = p
		if preset == "senet154" {
			a = pycall.Bind(c, append([]string{"layers", "groups", "reduction", "pretrained", "progress"}, common...)...)
		} else {
			a = pycall.Bind(c, "layers", "groups", "reduction", "dropout_prob", "inplanes", "downsample_kernel_size", "input_3x3",
				"pretrained", "progress", "spatial_dims", "in_channels", "num_classes", "dropout_dim")
		}
		a.Require("spatial_dims", "in_channels")
		checkNotPretrained(a)
	}
	check3D(a)
	cfg := def
	cfg.InChannels = a.PositiveInt("in_channels", 1)
	cfg.Classes = a.Int("num_classes", 1000)
	if l := a.Ints("layers", 4, def.Layers[:]); l != nil {
		cfg.Layers = [4]int(l)
	}
	cfg.Groups = a.PositiveInt("groups", def.Groups)
	cfg.Reduction = a.PositiveInt("reduction", def.Reduction)
	if a.IsNone("dropout_prob") {
		cfg.DropoutProb = 0
	} else {
		cfg.DropoutProb = a.Float("dropout_prob", def.DropoutProb)
	}
	if d := a.Int("dropout_dim", 1); d != 1 {
		a.Fail("dropout_dim=%d: only 1 is implemented", d)
	}
	cfg.Inplanes = a.PositiveInt("inplanes", def.Inplanes)
	cfg.DownsampleKernelSize = a.PositiveInt("downsample_kernel_size", def.DownsampleKernelSize)
	cfg.Input3x3 = a.Bool("input_3x3", def.Input3x3)
	if err := a.Err(); err != nil {
		return nil, err
	}
	m, err := cnn.NewSENet(cfg)
	if err != nil {
		return nil, err
	}
	return logits(m), nil
}

func buildEfficientNet(c *pycall.Call) (*Model, error) {
	a := pycall.Bind(c, "model_name", "pretrained", "progress", "spatial_dims", "in_channels", "num_classes", "norm", "adv_prop")
	a.Require("model_name")
	a.Bool("pretrained", true) // MONAI loads ImageNet weights only for 2-D models
	a.Bool("progress", true)
	a.Bool("adv_prop", false)
	if d := a.Int("spatial_dims", 2); d != 3 {
		a.Fail("spatial_dims=%d: only 3-D models are implemented (MONAI's default is 2; pass spatial_dims=3)", d)
	}
	if a.Has("norm") {
		v := a.Value("norm")
		ok := false
		if l, isList := v.([]pycall.Value); isList && len(l) == 2 {
			if s, _ := l[0].(string); s == "batch" {
				if d, _ := l[1].(pycall.Dict); len(d) == 2 && d[0].Name == "eps" && d[1].Name == "momentum" {
					eps, _ := d[0].Value.(float64)
					mom, _ := d[1].Value.(float64)
					ok = eps == 1e-3 && mom == 0.01
				}
			}
		}
		if !ok {
			a.Fail("norm=%s: only MONAI's default ('batch', {'eps': 1e-3, 'momentum': 0.01}) is implemented", pycall.Repr(v))
		}
	}
	cfg := cnn.EfficientNetConfig{Model: a.String("model_name", ""), InChannels: a.PositiveInt("in_channels", 3), Classes: a.Int("num_classes", 1000)}
	if err := a.Err(); err != nil {
		return nil, err
	}
	m, err := cnn.NewEfficientNet(cfg)
	if err != nil {
		return nil, err
	}
	return logits(m), nil
}

// noDropout switches a CNN's stochastic layers off (dropout, EfficientNet's
// drop-connect) for the training fixtures, as their generator does.
func noDropout(m nn.Module) error {
	switch c := m.(type) {
	case *cnn.EfficientNet:
		c.Dropout = 0
		for _, stack := range c.Stacks {
			for _, b := range stack {
				b.DropConnect = 0
			}
		}
	case *cnn.SENet:
		c.Config.DropoutProb = 0
	case *cnn.DenseNet:
		c.Config.DropoutProb = 0
	case *cnn.ResNet:
		// no dropout
	default:
		return fmt.Errorf("no_dropout: %T is not handled", m)
	}
	return nil
}
