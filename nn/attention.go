package nn

import (
	"fmt"
	"math"
)

// attention is scaled dot-product attention softmax(q·kᵀ·scale)·v over the
// last two dimensions: q [..., Lq, d], k and v [..., Lk, d].
func (g *Graph) attention(q, k, v *Tensor, scale float32) *Tensor {
	s := g.Scale(g.MatMul(q, k, MatMulOptions{TransB: true}), scale)
	return g.MatMul(g.Softmax(s, -1), v, MatMulOptions{})
}

// MultiHeadAttention is MONAI's SABlock: a fused qkv Linear (hidden →
// 3·hidden, bias optional), heads laid out as (qkv, head, dim) along the
// feature axis, scaled dot-product attention and an output projection.
// State-dict names: qkv.weight, [qkv.bias], out_proj.weight, out_proj.bias.
type MultiHeadAttention struct {
	Heads   int
	QKV     *Linear
	OutProj *Linear
	// DropoutRate applies to the attention map and the output in training.
	DropoutRate float64
	Training    bool

	packs *packCache // fused-attention workspaces, owned by the layer
}

// AttentionOptions configures NewMultiHeadAttention. The zero value is
// MONAI SABlock's default (no qkv bias, no dropout).
type AttentionOptions struct {
	// QKVBias gives the fused qkv projection a bias.
	QKVBias bool
	// DropoutRate applies to the attention map and the output in training.
	DropoutRate float64
}

// NewMultiHeadAttention returns an SABlock for the given hidden size.
func NewMultiHeadAttention(hidden, heads int, o AttentionOptions, r *RNG) (*MultiHeadAttention, error) {
	if heads < 1 || hidden%heads != 0 {
		return nil, fmt.Errorf("%w: hidden size %d not divisible by %d heads", ErrShape, hidden, heads)
	}
	if o.DropoutRate < 0 || o.DropoutRate >= 1 || math.IsNaN(o.DropoutRate) {
		return nil, fmt.Errorf("%w: dropout rate %v outside [0, 1)", ErrInput, o.DropoutRate)
	}
	return &MultiHeadAttention{Heads: heads, DropoutRate: o.DropoutRate,
		QKV:     NewLinear(hidden, 3*hidden, LinearOptions{NoBias: !o.QKVBias}, r),
		OutProj: NewLinear(hidden, hidden, LinearOptions{}, r), packs: newPackCache()}, nil
}

// Forward maps x [B, N, hidden] to [B, N, hidden].
func (m *MultiHeadAttention) Forward(g *Graph, x *Tensor) *Tensor {
	return m.ForwardAct(g, x, LinearAct{})
}

// ForwardAct is Forward with a fused into the output projection (after
// its dropout in training): a transformer block's x + attn(norm(x)) is
// ForwardAct(g, norm(x), LinearAct{Residual: x}).
func (m *MultiHeadAttention) ForwardAct(g *Graph, x *Tensor, a LinearAct) *Tensor {
	if g.bad() {
		return g.dead
	}
	if len(x.Shape) != 3 || x.Shape[2] != m.QKV.Weight.Shape[1] {
		return g.fail("MultiHeadAttention: input %v, want [B, N, %d]", x.Shape, m.QKV.Weight.Shape[1])
	}
	b, n, c := x.Shape[0], x.Shape[1], x.Shape[2]
	d := c / m.Heads
	if !m.Training || m.DropoutRate == 0 {
		y := g.selfAttentionPacked(m.QKV.Forward(g, x), m.Heads, float32(1/math.Sqrt(float64(d))), m.packs)
		return m.OutProj.ForwardAct(g, y, a)
	}
	qkv := g.Permute(g.Reshape(m.QKV.Forward(g, x), b, n, 3, m.Heads, d), 2, 0, 3, 1, 4) // [3, B, H, N, d]
	per := b * m.Heads * n * d
	q := g.Reshape(g.Narrow(g.Reshape(qkv, 3, per), 0, 0, 1), b, m.Heads, n, d)
	k := g.Reshape(g.Narrow(g.Reshape(qkv, 3, per), 0, 1, 1), b, m.Heads, n, d)
	v := g.Reshape(g.Narrow(g.Reshape(qkv, 3, per), 0, 2, 1), b, m.Heads, n, d)
	att := g.Softmax(g.Scale(g.MatMul(q, k, MatMulOptions{TransB: true}), float32(1/math.Sqrt(float64(d)))), -1)
	if m.Training && m.DropoutRate > 0 {
		att = g.Dropout(att, m.DropoutRate)
	}
	y := g.Reshape(g.Permute(g.MatMul(att, v, MatMulOptions{}), 0, 2, 1, 3), b, n, c)
	y = m.OutProj.Forward(g, y)
	if m.Training && m.DropoutRate > 0 {
		y = g.Dropout(y, m.DropoutRate)
	}
	return g.applyLinearAct(y, a)
}

// SetTraining switches dropout.
func (m *MultiHeadAttention) SetTraining(on bool) { m.Training = on }

// Visit declares qkv and out_proj.
func (m *MultiHeadAttention) Visit(v *Visitor) { v.Child("qkv", m.QKV); v.Child("out_proj", m.OutProj) }
