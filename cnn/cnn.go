package cnn

import (
	"fmt"
	"sort"
	"strings"

	"github.com/metasurv/metasurv/nn"
)

// Config is what New needs to build any of the models by name. Zero
// fields mean the model's MONAI default; a field that does not apply to
// the named model (ResNet options for a DenseNet, say) is an error rather
// than silently ignored.
type Config struct {
	// InChannels is the number of input channels; zero means 1.
	InChannels int
	// Classes is the number of outputs of the classifier. Zero means no
	// classifier where MONAI allows it (ResNet's feed_forward=False: Forward
	// returns the embedding); the other families need Classes ≥ 1.
	Classes int
	// Seed drives the random initialisation.
	Seed uint64

	// ResNet only (MONAI's ResNet arguments).
	Conv1TSize, Conv1TStride int      // conv1_t_size (zero = 7), conv1_t_stride (zero = 1)
	NoMaxPool                bool     // no_max_pool
	Shortcut                 Shortcut // shortcut_type (zero = B)
	WidenFactor              float64  // widen_factor (zero = 1)
	NoDownsampleBias         bool     // bias_downsample=False
	Geometry                 Geometry // MONAI (zero) or MedicalNet (dilated layer3/4)

	// DropoutProb is the dropout before the classifier (SENet: dropout_prob,
	// zero = the model's default; negative = none) or inside the dense
	// layers (DenseNet: dropout_prob, zero = none).
	DropoutProb float64
}

// family builds one kind of model from a name's preset and a Config.
type family struct {
	build func(name string, c Config) (nn.Backbone, error)
}

var registry = map[string]family{}

func register(name string, f func(name string, c Config) (nn.Backbone, error)) {
	registry[name] = family{build: f}
}

// Names lists every name New accepts, sorted.
func Names() []string {
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// New builds the named model (see Names: resnet10…resnet200,
// medicalnet10…medicalnet200, densenet121/169/201/264, senet154,
// seresnet50/101/152, seresnext50/101, efficientnet-b0…b7) with random
// weights. Names are case-insensitive and "_" may stand for "-".
func New(name string, c Config) (nn.Backbone, error) {
	key := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	f, ok := registry[key]
	if !ok {
		return nil, fmt.Errorf("%w: %q (known: %s)", ErrUnknownModel, name, strings.Join(Names(), ", "))
	}
	return f.build(key, c)
}

// resnetOnly reports the ResNet-only fields set in c.
func (c Config) resnetOnly() []string {
	var s []string
	if c.Conv1TSize != 0 {
		s = append(s, "Conv1TSize")
	}
	if c.Conv1TStride != 0 {
		s = append(s, "Conv1TStride")
	}
	if c.NoMaxPool {
		s = append(s, "NoMaxPool")
	}
	if c.Shortcut != ShortcutB {
		s = append(s, "Shortcut")
	}
	if c.WidenFactor != 0 {
		s = append(s, "WidenFactor")
	}
	if c.NoDownsampleBias {
		s = append(s, "NoDownsampleBias")
	}
	if c.Geometry != GeometryMONAI {
		s = append(s, "Geometry")
	}
	return s
}

func notApplicable(name string, fields []string) error {
	if len(fields) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s does not take %s", ErrConfig, name, strings.Join(fields, ", "))
}

func needClasses(name string, c Config) error {
	if c.Classes < 1 {
		return fmt.Errorf("%w: %s needs Classes ≥ 1, got %d", ErrConfig, name, c.Classes)
	}
	return nil
}

func init() {
	for depth := range resnetDepths {
		register(fmt.Sprintf("resnet%d", depth), func(name string, c Config) (nn.Backbone, error) {
			rc, _ := ResNetDepth(depth)
			return newResNetFrom(rc, c)
		})
		register(fmt.Sprintf("medicalnet%d", depth), func(name string, c Config) (nn.Backbone, error) {
			rc, _ := MedicalNetConfig(depth)
			if c.Geometry != GeometryMONAI || c.Shortcut != ShortcutB || c.NoDownsampleBias {
				return nil, fmt.Errorf("%w: %s fixes Geometry, Shortcut and NoDownsampleBias (use resnet%d to choose them)", ErrConfig, name, depth)
			}
			c.Geometry, c.Shortcut, c.NoDownsampleBias = rc.Geometry, rc.Shortcut, rc.NoDownsampleBias
			if c.Conv1TStride == 0 {
				c.Conv1TStride = 2
			}
			return newResNetFrom(rc, c)
		})
	}
	for name, blocks := range densenetPresets {
		register(name, func(name string, c Config) (nn.Backbone, error) {
			if err := notApplicable(name, c.resnetOnly()); err != nil {
				return nil, err
			}
			if err := needClasses(name, c); err != nil {
				return nil, err
			}
			return NewDenseNet(DenseNetConfig{InChannels: c.InChannels, Classes: c.Classes, BlockConfig: blocks, DropoutProb: c.DropoutProb, Seed: c.Seed})
		})
	}
	for name, preset := range senetPresets {
		register(name, func(name string, c Config) (nn.Backbone, error) {
			if err := notApplicable(name, c.resnetOnly()); err != nil {
				return nil, err
			}
			if err := needClasses(name, c); err != nil {
				return nil, err
			}
			sc := preset
			sc.InChannels, sc.Classes, sc.Seed = c.InChannels, c.Classes, c.Seed
			switch {
			case c.DropoutProb < 0:
				sc.DropoutProb = 0
			case c.DropoutProb != 0: // positive, or NaN for NewSENet to refuse
				sc.DropoutProb = c.DropoutProb
			}
			return NewSENet(sc)
		})
	}
	for i := range 8 {
		name := fmt.Sprintf("efficientnet-b%d", i)
		register(name, func(name string, c Config) (nn.Backbone, error) {
			if err := notApplicable(name, c.resnetOnly()); err != nil {
				return nil, err
			}
			if c.DropoutProb != 0 {
				return nil, notApplicable(name, []string{"DropoutProb"})
			}
			if err := needClasses(name, c); err != nil {
				return nil, err
			}
			return NewEfficientNet(EfficientNetConfig{Model: name, InChannels: c.InChannels, Classes: c.Classes, Seed: c.Seed})
		})
	}
}

func newResNetFrom(rc ResNetConfig, c Config) (nn.Backbone, error) {
	if c.DropoutProb != 0 {
		return nil, notApplicable("ResNet", []string{"DropoutProb"})
	}
	rc.InChannels, rc.Classes, rc.Seed = c.InChannels, c.Classes, c.Seed
	if c.Conv1TSize != 0 {
		rc.Conv1TSize = cube(c.Conv1TSize)
	}
	if c.Conv1TStride != 0 {
		rc.Conv1TStride = cube(c.Conv1TStride)
	}
	rc.NoMaxPool, rc.Shortcut, rc.WidenFactor = c.NoMaxPool, c.Shortcut, c.WidenFactor
	rc.NoDownsampleBias, rc.Geometry = c.NoDownsampleBias, c.Geometry
	return NewResNet(rc)
}

// checkInput records an ErrInput on g unless x is (N, channels, D, H, W).
func checkInput(g *nn.Graph, x *nn.Tensor, channels int, model string) bool {
	if g.Err() != nil {
		return false
	}
	if x == nil {
		g.SetErr(fmt.Errorf("%w: %s given a nil input", ErrInput, model))
		return false
	}
	if len(x.Shape) != 5 || x.Shape[1] != channels || x.Shape[0] < 1 {
		g.SetErr(fmt.Errorf("%w: %s takes (N, %d, D, H, W), got %v", ErrInput, model, channels, x.Shape))
		return false
	}
	if !x.Filled() {
		g.SetErr(fmt.Errorf("%w: %s given %d values for shape %v", ErrInput, model, len(x.Data), x.Shape))
		return false
	}
	return true
}

// Every model is a backbone.
var (
	_ nn.Backbone = (*ResNet)(nil)
	_ nn.Backbone = (*DenseNet)(nil)
	_ nn.Backbone = (*SENet)(nil)
	_ nn.Backbone = (*EfficientNet)(nil)
)
