package vit

import (
	"fmt"

	"github.com/metasurv/metasurv/nn"
)

// LaMIMEncoder returns the configuration of the LaMIM foundation model
// (Chen et al., Eur Radiol 2024; checkpoint SSL_ViT_Block16.pth):
// ViTAutoEnc(in_channels=4, out_channels=4, img_size=96, patch_size=16,
// hidden_size=2048, mlp_dim=3072, num_layers=16, num_heads=32), 506,112,020
// parameters.
func LaMIMEncoder() Config {
	return Config{InChannels: 4, OutChannels: 4, ImgSize: Cube(96), PatchSize: Cube(16),
		HiddenSize: 2048, MLPDim: 3072, NumLayers: 16, NumHeads: 32}
}

// LaMIMConfig configures the LaMIM classifier.
type LaMIMConfig struct {
	// Encoder is the ViTAutoEnc; the zero value means LaMIMEncoder().
	Encoder Config
	// Widths are the two hidden widths of the head (default 512, 64: the
	// study does not publish them; set them to match a trained head).
	Widths [2]int
	// Classes is the number of outputs (default 3: survival < 6, 6–21,
	// > 21 months).
	Classes int
	// Seed seeds the head's initialisation (PyTorch's Linear default).
	Seed uint64
}

// LaMIMClassifier is the study's "ViTClassifier_block16" (LaMIM's
// Models.py Classifier): the ViTAutoEnc encoder's last block output h (N,
// T, hidden) — before the final LayerNorm —, AvgPool2d(3, stride 3) over
// the (T, hidden) plane of each sample (floor), flattened to
// (T/3)·(hidden/3) features, then FC = Linear → ReLU → Linear → ReLU →
// Linear. The decoder of the autoencoder is kept (its weights are in
// the checkpoints) but never run.
//
// State-dict names: model.* (the ViTAutoEnc), FC.0.*, FC.2.*, FC.4.*.
type LaMIMClassifier struct {
	// Model is the foundation model.
	Model *AutoEnc
	// FC is the head: Linear, ReLU, Linear, ReLU, Linear.
	FC  *nn.Sequential
	cfg LaMIMConfig
}

// NewLaMIM builds the classifier.
func NewLaMIM(c LaMIMConfig) (*LaMIMClassifier, error) {
	if c.Encoder == (Config{}) {
		c.Encoder = LaMIMEncoder()
	}
	if c.Widths == [2]int{} {
		c.Widths = [2]int{512, 64}
	}
	if c.Classes == 0 {
		c.Classes = 3
	}
	if c.Widths[0] < 1 || c.Widths[1] < 1 || c.Classes < 1 {
		return nil, fmt.Errorf("%w: head widths %v and %d classes (want all ≥ 1)", ErrConfig, c.Widths, c.Classes)
	}
	enc, err := c.Encoder.withDefaults()
	if err != nil {
		return nil, err
	}
	flat := LaMIMPoolDim(enc)
	if flat < 1 {
		return nil, fmt.Errorf("%w: %d tokens of %d features pool to nothing with AvgPool2d(3, stride 3)", ErrConfig, tokensOf(enc), enc.HiddenSize)
	}
	w0, w1, k := float64(c.Widths[0]), float64(c.Widths[1]), float64(c.Classes)
	if n := enc.params() + (float64(flat)+1)*w0 + (w0+1)*w1 + (w1+1)*k; n > MaxParameters {
		return nil, fmt.Errorf("%w: the classifier would hold %.3g parameters (limit %d)", ErrConfig, n, MaxParameters)
	}
	ae, err := NewAutoEnc(c.Encoder)
	if err != nil {
		return nil, err
	}
	c.Encoder = ae.cfg
	r := nn.NewRNG(c.Seed)
	fc := nn.NewSequential(
		nn.NewLinear(flat, c.Widths[0], nn.LinearOptions{}, r), nn.ReLU,
		nn.NewLinear(c.Widths[0], c.Widths[1], nn.LinearOptions{}, r), nn.ReLU,
		nn.NewLinear(c.Widths[1], c.Classes, nn.LinearOptions{}, r))
	return &LaMIMClassifier{Model: ae, FC: fc, cfg: c}, nil
}

func tokensOf(c Config) int { _, n := c.grid(); return n }

// LaMIMPoolDim is the length of the LaMIM pool of an encoder of
// configuration c: (T/3)·(hidden/3) — 72·682 = 49104 for LaMIM. Zero
// fields take New's defaults; it is 0 for a configuration New refuses.
func LaMIMPoolDim(c Config) int {
	c, err := c.withDefaults()
	if err != nil {
		return 0
	}
	return tokensOf(c) / 3 * (c.HiddenSize / 3)
}

// Config returns the configuration with defaults filled in.
func (m *LaMIMClassifier) Config() LaMIMConfig { return m.cfg }

// Encode runs the encoder (no final LayerNorm: the head does not use it).
func (m *LaMIMClassifier) Encode(g *nn.Graph, x *nn.Tensor) *Encoding {
	return m.Model.enc.encode(g, x, false)
}

// Forward returns the logits (N, Classes).
func (m *LaMIMClassifier) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	out, _ := m.ForwardHidden(g, x)
	return out
}

// ForwardHidden returns the logits and every block's output.
func (m *LaMIMClassifier) ForwardHidden(g *nn.Graph, x *nn.Tensor) (*nn.Tensor, []*nn.Tensor) {
	enc := m.Encode(g, x)
	if enc == nil {
		return g.SetErr(g.Err()), nil
	}
	return m.FC.Forward(g, lamimPool(g, enc.Last())), enc.Hidden
}

// Embed returns the input of the last Linear (N, Widths[1]), the
// penultimate features.
func (m *LaMIMClassifier) Embed(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	enc := m.Encode(g, x)
	if enc == nil {
		return g.SetErr(g.Err())
	}
	h := lamimPool(g, enc.Last())
	for _, l := range m.FC.Layers[:4] {
		h = l.Forward(g, h)
	}
	return h
}

// EmbedDim is Widths[1].
func (m *LaMIMClassifier) EmbedDim() int { return m.cfg.Widths[1] }

// SetTraining switches dropout of the encoder (the head has none).
func (m *LaMIMClassifier) SetTraining(on bool) { m.Model.SetTraining(on) }

// Visit declares model.* and FC.*.
func (m *LaMIMClassifier) Visit(v *nn.Visitor) {
	v.Child("model", m.Model)
	v.Child("FC", m.FC)
}

// lamimPool is torch's AvgPool2d(3, stride=3) applied to h (B, T, C) as
// an unbatched (channels=B, T, C) image, flattened to (B, (T/3)·(C/3)).
func lamimPool(g *nn.Graph, h *nn.Tensor) *nn.Tensor {
	if len(h.Shape) != 3 {
		return g.SetErr(fmt.Errorf("%w: LaMIM pool of %v, want [B, T, C]", ErrInput, h.Shape))
	}
	b, t, c := h.Shape[0], h.Shape[1], h.Shape[2]
	p := g.AvgPool3d(g.Reshape(h, b, 1, 1, t, c), nn.PoolOptions{Kernel: [3]int{1, 3, 3}, Stride: [3]int{1, 3, 3}})
	return g.Reshape(p, b, (t/3)*(c/3))
}

var _ nn.Backbone = (*LaMIMClassifier)(nil)
