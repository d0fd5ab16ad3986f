package nn

import "testing"

// vitBlock is MONAI's TransformerBlock (pre-norm, qkv without bias, GELU).
type vitBlock struct {
	norm1, norm2 *LayerNorm
	attn         *MultiHeadAttention
	fc1, fc2     *Linear
}

func newViTBlock(h, mlp, heads int, r *RNG) *vitBlock {
	a, err := NewMultiHeadAttention(h, heads, AttentionOptions{}, r)
	if err != nil {
		panic(err)
	}
	return &vitBlock{norm1: NewLayerNorm(h), norm2: NewLayerNorm(h), attn: a,
		fc1: NewLinear(h, mlp, LinearOptions{}, r), fc2: NewLinear(mlp, h, LinearOptions{}, r)}
}

func (b *vitBlock) Forward(g *Graph, x *Tensor) *Tensor {
	x = g.Add(x, b.attn.Forward(g, b.norm1.Forward(g, x)))
	return g.Add(x, b.fc2.Forward(g, g.GELU(b.fc1.Forward(g, b.norm2.Forward(g, x)))))
}

// BenchmarkViTBlockTrain times forward+backward of one ViT-B/16 encoder
// block on 2 × 216 tokens × 768 (the foundation model's hot path).
func BenchmarkViTBlockTrain(b *testing.B) {
	r := NewRNG(1)
	blk := newViTBlock(768, 3072, 12, r)
	x := randT(r, 2, 216, 768)
	x.SetRequiresGrad(false)
	g := NewGraph(Options{Grad: true, Arena: NewArena()})
	step := func() {
		g.Reset()
		y := blk.Forward(g, x)
		if err := g.BackwardWith(y, y.Data); err != nil {
			b.Fatal(err)
		}
	}
	step()
	b.ResetTimer()
	for range b.N {
		step()
	}
	// 2 × (qkv 3h² + out h² + mlp 2·h·m) per token, ×3 for backward, + attention.
	flops := 3 * 2 * 2 * 216 * (4*768*768 + 2*768*3072)
	b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
