package vit

import (
	"github.com/metasurv/metasurv/nn"
)

// ViT is MONAI's ViT (monai.networks.nets.ViT, 1.3.2): patch embedding
// with learnable position embeddings, pre-norm transformer blocks, a final
// LayerNorm, and either a classification head on a cls token
// (Config.Classification) or the normalised token features.
//
// State-dict names equal MONAI's: cls_token, patch_embedding.*,
// blocks.N.{mlp.linear1,mlp.linear2,norm1,attn.qkv,attn.out_proj,norm2}.*,
// norm.*, classification_head.0.* (with the default Tanh) or
// classification_head.* (NoPostActivation).
type ViT struct {
	cfg  Config
	enc  *encoder
	lin  *nn.Linear // classification head, nil without classification
	head nn.Module  // lin, or Sequential(lin, Tanh)
}

// New builds a ViT; see Config for the arguments and their defaults.
func New(c Config) (*ViT, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &ViT{cfg: c, enc: newEncoder(c, c.Classification)}
	if c.Classification {
		ctor, r := initRNGs(c, 0x9e3779b97f4a7c15)
		m.lin = newLinear(c.HiddenSize, c.NumClasses, true, ctor, r)
		m.head = m.lin
		if !c.NoPostActivation {
			m.head = nn.NewSequential(m.lin, nn.Tanh)
		}
	}
	return m, nil
}

// Config returns the configuration with defaults filled in.
func (m *ViT) Config() Config { return m.cfg }

// Encode runs the encoder on x (N, InChannels, ImgSize...) and returns
// every block's output and the normalised final state; nil (and g.Err()
// set) when x does not fit.
func (m *ViT) Encode(g *nn.Graph, x *nn.Tensor) *Encoding { return m.enc.encode(g, x, true) }

// Forward returns what MONAI's ViT returns first: the logits (N,
// NumClasses) of the cls token, Tanh applied unless NoPostActivation,
// with Classification; otherwise the normalised features (N, T, hidden).
func (m *ViT) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	out, _ := m.ForwardHidden(g, x)
	return out
}

// ForwardHidden is MONAI's forward: the output of Forward together with
// every block's output (hidden_states_out).
func (m *ViT) ForwardHidden(g *nn.Graph, x *nn.Tensor) (*nn.Tensor, []*nn.Tensor) {
	enc := m.Encode(g, x)
	if enc == nil {
		return g.SetErr(g.Err()), nil
	}
	if m.head == nil {
		return enc.Normed, enc.Hidden
	}
	return m.head.Forward(g, clsToken(g, enc.Normed)), enc.Hidden
}

// clsToken returns token 0 of t (B, T, C) as (B, C).
func clsToken(g *nn.Graph, t *nn.Tensor) *nn.Tensor {
	return g.Reshape(g.Narrow(t, 1, 0, 1), t.Shape[0], t.Shape[2])
}

// Embed returns the input of the classification head, the normalised cls
// token (N, hidden); without Classification, the mean of the normalised
// tokens.
func (m *ViT) Embed(g *nn.Graph, x *nn.Tensor) *nn.Tensor {
	enc := m.Encode(g, x)
	if enc == nil {
		return g.SetErr(g.Err())
	}
	if m.head != nil {
		return clsToken(g, enc.Normed)
	}
	return Pool(g, enc, PoolMean)
}

// EmbedDim is the hidden size.
func (m *ViT) EmbedDim() int { return m.cfg.HiddenSize }

// SetTraining switches dropout on or off (nn.SetTraining calls it).
func (m *ViT) SetTraining(on bool) { m.enc.setTraining(on) }

// Visit declares the state dict with MONAI's names.
func (m *ViT) Visit(v *nn.Visitor) {
	m.enc.visit(v)
	v.Child("classification_head", m.head)
}

var _ nn.Backbone = (*ViT)(nil)
