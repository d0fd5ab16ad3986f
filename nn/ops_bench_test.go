package nn

import "testing"

// BenchmarkOps times the non-convolution layers of a ResNet stem at its
// largest activation (2×64×48³), forward + backward, reporting MB/s of
// activation processed.
func BenchmarkOps(b *testing.B) {
	r := NewRNG(1)
	x := randT(r, 2, 64, 48, 48, 48)
	x.SetRequiresGrad(true)
	res := randT(r, 2, 64, 48, 48, 48)
	bn := NewBatchNorm3d(64)
	stem := PoolOptions{Kernel: Cube(3), Stride: Cube(2), Padding: Cube(1)}
	cases := []struct {
		name string
		f    func(g *Graph) *Tensor
	}{
		{"batchnorm_train_2x64x48", func(g *Graph) *Tensor { return bn.Forward(g, x) }},
		{"relu_2x64x48", func(g *Graph) *Tensor { return g.ReLU(x) }},
		// ResNet's relu(bn(x)) and relu(bn(x) + res), composed and fused.
		{"bn_relu_composed_2x64x48", func(g *Graph) *Tensor { return g.ReLU(bn.Forward(g, x)) }},
		{"bn_relu_fused_2x64x48", func(g *Graph) *Tensor { return bn.ForwardAct(g, x, ActOptions{ReLU: true}) }},
		{"bn_add_relu_composed_2x64x48", func(g *Graph) *Tensor { return g.ReLU(g.Add(bn.Forward(g, x), res)) }},
		{"bn_add_relu_fused_2x64x48", func(g *Graph) *Tensor { return bn.ForwardAct(g, x, ActOptions{Residual: res, ReLU: true}) }},
		// The stem: maxpool(relu(bn(x))), composed and fused.
		{"bn_relu_maxpool_composed_2x64x48", func(g *Graph) *Tensor { return g.MaxPool3d(bn.ForwardAct(g, x, ActOptions{ReLU: true}), stem) }},
		{"bn_relu_maxpool_fused_2x64x48", func(g *Graph) *Tensor { return bn.ForwardAct(g, x, ActOptions{ReLU: true, MaxPool: &stem}) }},
		{"maxpool_k3s2_2x64x48", func(g *Graph) *Tensor {
			return g.MaxPool3d(x, PoolOptions{Kernel: Cube(3), Stride: Cube(2), Padding: Cube(1)})
		}},
		{"add_2x64x48", func(g *Graph) *Tensor { return g.Add(x, x) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			g := NewGraph(Options{Grad: true, Arena: NewArena()})
			step := func() {
				g.Reset()
				x.ZeroGrad()
				res.ZeroGrad()
				y := c.f(g)
				if err := g.BackwardWith(y, y.Data); err != nil {
					b.Fatal(err)
				}
			}
			step()
			b.ResetTimer()
			for range b.N {
				step()
			}
			b.ReportMetric(float64(len(x.Data)*4)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
		})
	}
}
