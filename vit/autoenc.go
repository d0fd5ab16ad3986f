package vit

import (
	"fmt"

	"github.com/metasurv/metasurv/nn"
)

// AutoEnc is MONAI's ViTAutoEnc (1.3.2): the ViT encoder (no cls token)
// followed by a reconstruction through two transposed convolutions of
// kernel = stride = int(√patch) per axis (DeconvChannels, then
// OutChannels), so the reconstruction has the input's size. MONAI ≤ 1.2
// used kernel 4 whatever the patch: Config.DeconvKernel selects it.
//
// State-dict names equal MONAI's: patch_embedding.*, blocks.N.*, norm.*,
// conv3d_transpose.*, conv3d_transpose_1.*.
type AutoEnc struct {
	cfg             Config
	enc             *encoder
	deconv, deconv1 *nn.ConvTranspose3d
}

// NewAutoEnc builds a ViTAutoEnc; Classification and NumClasses are
// ignored.
func NewAutoEnc(c Config) (*AutoEnc, error) {
	c.Classification = false
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	k, err := c.deconvKernel()
	if err != nil {
		return nil, err
	}
	m := &AutoEnc{cfg: c, enc: newEncoder(c, false)}
	o := nn.ConvOptions{Stride: k}
	r := nn.NewRNG(c.Seed ^ 0x5851f42d4c957f2d)
	m.deconv = newConvT(c.HiddenSize, c.DeconvChannels, k, o, c.SkipInit, r)
	m.deconv1 = newConvT(c.DeconvChannels, c.OutChannels, k, o, c.SkipInit, r)
	return m, nil
}

// Config returns the configuration with defaults filled in.
func (m *AutoEnc) Config() Config { return m.cfg }

// Encode runs the encoder: every block's output and the normalised final
// state; nil (and g.Err() set) when x does not fit.
func (m *AutoEnc) Encode(g *nn.Graph, x *nn.Tensor) *Encoding { return m.enc.encode(g, x, true) }

// Forward returns the reconstruction (N, OutChannels, grid·kernel²...), MONAI's
// first output. AutoEnc is a Backbone so that the foundation model plugs
// in wherever a CNN does; its Embed is what a downstream head uses.
func (m *AutoEnc) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	out, _ := m.ForwardHidden(g, x)
	return out
}

// ForwardHidden is MONAI's forward: the reconstruction and every block's
// output (hidden_states_out).
func (m *AutoEnc) ForwardHidden(g *nn.Graph, x *nn.Tensor) (*nn.Tensor, []*nn.Tensor) {
	enc := m.Encode(g, x)
	if enc == nil {
		return g.SetErr(g.Err()), nil
	}
	return m.Decode(g, enc.Normed), enc.Hidden
}

// Decode maps normalised tokens (N, T, hidden) to the reconstruction.
func (m *AutoEnc) Decode(g *nn.Graph, normed *nn.Tensor) *nn.Tensor {
	gr, n := m.cfg.grid()
	if normed == nil {
		return g.SetErr(fmt.Errorf("%w: nil tokens", ErrInput))
	}
	if len(normed.Shape) != 3 || normed.Shape[1] != n || normed.Shape[2] != m.cfg.HiddenSize {
		return g.SetErr(wrapTokens(normed.Shape, n, m.cfg.HiddenSize))
	}
	b := normed.Shape[0]
	x := g.Reshape(g.Transpose(normed, 1, 2), b, m.cfg.HiddenSize, gr[0], gr[1], gr[2])
	return m.deconv1.Forward(g, m.deconv.Forward(g, x))
}

// Embed returns the mean over tokens of the normalised encoder output
// (N, hidden).
func (m *AutoEnc) Embed(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	enc := m.Encode(g, x)
	if enc == nil {
		return g.SetErr(g.Err())
	}
	return Pool(g, enc, PoolMean)
}

// EmbedDim is the hidden size.
func (m *AutoEnc) EmbedDim() int { return m.cfg.HiddenSize }

// SetTraining switches dropout on or off.
func (m *AutoEnc) SetTraining(on bool) { m.enc.setTraining(on) }

// Visit declares the state dict with MONAI's names.
func (m *AutoEnc) Visit(v *nn.Visitor) {
	m.enc.visit(v)
	v.Child("conv3d_transpose", m.deconv)
	v.Child("conv3d_transpose_1", m.deconv1)
}

var _ nn.Backbone = (*AutoEnc)(nil)
