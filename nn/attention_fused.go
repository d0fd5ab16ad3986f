package nn

import "github.com/metasurv/metasurv/internal/attention"

// selfAttentionPacked is fused scaled-dot-product self-attention on the
// output of a fused qkv projection, qkv (B, T, 3·C) with the features laid
// out as (qkv, head, dim) — MONAI SABlock's "b h (qkv l d)" — returning
// (B, T, C) with heads concatenated ("b l (h d)"). The T×T probabilities
// are never stored: the backward pass recomputes them.
func (g *Graph) selfAttentionPacked(qkv *Tensor, heads int, scale float32, pc *packCache) *Tensor {
	pc = g.packs(pc)
	if g.bad() {
		return g.dead
	}
	if len(qkv.Shape) != 3 || heads < 1 || qkv.Shape[2]%(3*heads) != 0 {
		return g.fail("self-attention: input %v with %d heads (want [B, T, 3·heads·d])", qkv.Shape, heads)
	}
	b, t, c := qkv.Shape[0], qkv.Shape[1], qkv.Shape[2]/3
	d := c / heads
	pk := attention.PackedQKV(heads, t, d)
	cfg := attention.Config{B: b, Heads: heads, T: t, D: d, Scale: scale, Q: pk, K: pk, V: pk, Out: attention.TokenMajor(heads, t, d), BF16: g.bf16}
	out := g.alloc(b, t, c)
	p, err := pc.acquireAttn(cfg)
	if err == nil {
		err = p.Forward(out.Data, qkv.Data, qkv.Data[c:], qkv.Data[2*c:])
		pc.releaseAttn(cfg, p)
	}
	if err != nil {
		return g.fail("self-attention: %v", err)
	}
	if g.rec(qkv) {
		g.recordAttn(out, qkv, cfg, c, pc)
	}
	return out
}

func (g *Graph) recordAttn(out, qkv *Tensor, cfg attention.Config, c int, pc *packCache) {
	g.record(out, func(gout []float32) {
		p, err := pc.acquireAttn(cfg)
		must(err)
		defer pc.releaseAttn(cfg, p)
		g.gradInto(qkv, func(dx []float32) {
			must(p.Backward(dx, dx[c:], dx[2*c:], gout, qkv.Data, qkv.Data[c:], qkv.Data[2*c:]))
		})
	})
}
