package nn

import (
	"sync"

	"github.com/metasurv/metasurv/internal/attention"
)

var attnCache = struct {
	sync.Mutex
	m map[attention.Config][]*attention.Plan
}{m: map[attention.Config][]*attention.Plan{}}

func acquireAttn(c attention.Config) (*attention.Plan, error) {
	attnCache.Lock()
	if l := attnCache.m[c]; len(l) > 0 {
		p := l[len(l)-1]
		attnCache.m[c] = l[:len(l)-1]
		attnCache.Unlock()
		return p, nil
	}
	attnCache.Unlock()
	return attention.NewPlan(c)
}

func releaseAttn(c attention.Config, p *attention.Plan) {
	attnCache.Lock()
	if len(attnCache.m) > maxPlans {
		clear(attnCache.m)
	}
	attnCache.m[c] = append(attnCache.m[c], p)
	attnCache.Unlock()
}

// SelfAttentionPacked is fused scaled-dot-product self-attention on the
// output of a fused qkv projection, qkv (B, T, 3·C) with the features laid
// out as (qkv, head, dim) — MONAI SABlock's "b h (qkv l d)" — returning
// (B, T, C) with heads concatenated ("b l (h d)"). The T×T probabilities
// are never stored: the backward pass recomputes them.
func (g *Graph) SelfAttentionPacked(qkv *Tensor, heads int, scale float32) *Tensor {
	if g.bad() {
		return g.dead
	}
	if len(qkv.Shape) != 3 || heads < 1 || qkv.Shape[2]%(3*heads) != 0 {
		return g.fail("SelfAttentionPacked: input %v with %d heads (want [B, T, 3·heads·d])", qkv.Shape, heads)
	}
	b, t, c := qkv.Shape[0], qkv.Shape[1], qkv.Shape[2]/3
	d := c / heads
	pk := attention.PackedQKV(heads, t, d)
	cfg := attention.Config{B: b, Heads: heads, T: t, D: d, Scale: scale, Q: pk, K: pk, V: pk, Out: attention.TokenMajor(heads, t, d)}
	out := g.alloc(b, t, c)
	p, err := acquireAttn(cfg)
	if err == nil {
		err = p.Forward(out.Data, qkv.Data, qkv.Data[c:], qkv.Data[2*c:])
		releaseAttn(cfg, p)
	}
	if err != nil {
		return g.fail("SelfAttentionPacked: %v", err)
	}
	if g.rec(qkv) {
		g.recordAttn(out, qkv, cfg, c)
	}
	return out
}

func (g *Graph) recordAttn(out, qkv *Tensor, cfg attention.Config, c int) {
	g.record(out, func(gout []float32) {
		p, err := acquireAttn(cfg)
		must(err)
		defer releaseAttn(cfg, p)
		g.gradInto(qkv, func(dx []float32) {
			must(p.Backward(dx, dx[c:], dx[2*c:], gout, qkv.Data, qkv.Data[c:], qkv.Data[2*c:]))
		})
	})
}
