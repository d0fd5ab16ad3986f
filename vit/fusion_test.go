package vit

import (
	"fmt"
	"math"
	"testing"

	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/nn"
)

// TestInferenceFusionsBits checks that AutoEnc's encoding is bit for bit
// the same with and without the inference fusions, each alone and both:
// the MLP's two Linears as one (Linear.ForwardPair: the hidden
// activations handed over inside the GEMM) and the patch rows read
// through Graph.LinearRows (never stored). In float32 and with
// Options.BF16 (weights large enough to be rounded per call), on batches
// of more than one image (the position embeddings then added apart, at
// batch 1 fused as the residual), tokens not a multiple of 32 and an MLP
// width not a multiple of 32. It also checks that the fused schemes apply
// to these shapes, so the comparison is not of one path with itself.
func TestInferenceFusionsBits(t *testing.T) {
	for _, tc := range []struct {
		batch, img, mlp int
	}{{2, 64, 1024}, {3, 48, 1030}, {1, 64, 1030}} {
		c := Config{InChannels: 1, ImgSize: Cube(tc.img), PatchSize: Cube(16), HiddenSize: 256, MLPDim: tc.mlp, NumLayers: 2, NumHeads: 4, Seed: 5}
		m, err := NewAutoEnc(c)
		if err != nil {
			t.Fatal(err)
		}
		x := nn.NewTensor(tc.batch, 1, tc.img, tc.img, tc.img)
		nn.InitNormal(x, 0, 1, nn.NewRNG(7))
		rows := tc.batch * (tc.img / 16) * (tc.img / 16) * (tc.img / 16)
		for _, bf := range []bool{false, true} {
			if bf && !nn.HaveBF16() {
				continue
			}
			name := fmt.Sprintf("batch %d img %d mlp %d bf16 %v", tc.batch, tc.img, tc.mlp, bf)
			if !gemm.PairApplies(rows, tc.mlp, c.HiddenSize, bf) || !gemm.SourceApplies(rows, c.HiddenSize, bf) {
				t.Logf("%s: the fused scheme does not apply on this machine", name)
				continue
			}
			sameWithFusions(t, name, m, x, bf)
		}
		// converted to resident bfloat16 weights: the MLP pair on them
		// (gemm.SgemmBF16WPair), the patches stored
		if nn.HaveBF16() && !gemm.UsesAMX() {
			if err := nn.ConvertBF16(m); err != nil {
				t.Fatal(err)
			}
			sameWithFusions(t, fmt.Sprintf("batch %d img %d mlp %d converted", tc.batch, tc.img, tc.mlp), m, x, true)
		}
	}
}

// sameWithFusions fails unless m's encoding of x has the same bits with
// the fusions off, each on alone, and both on.
func sameWithFusions(t *testing.T, name string, m *AutoEnc, x *nn.Tensor, bf bool) {
	t.Helper()
	enc := func(mlp, patches bool) []*nn.Tensor {
		defer func(m, p bool) { fuseMLP, fusePatches = m, p }(fuseMLP, fusePatches)
		fuseMLP, fusePatches = mlp, patches
		g := nn.NewGraph(nn.Options{BF16: bf})
		e := m.Encode(g, x)
		if err := g.Err(); err != nil {
			t.Fatal(err)
		}
		return append(e.Hidden, e.Normed)
	}
	want := enc(false, false)
	for _, f := range [][2]bool{{true, false}, {false, true}, {true, true}} {
		got := enc(f[0], f[1])
		for l := range want {
			for i, v := range want[l].Data {
				if math.Float32bits(got[l].Data[i]) != math.Float32bits(v) {
					t.Fatalf("%s fused MLP %v patches %v: output %d [%d] = %v, unfused %v", name, f[0], f[1], l, i, got[l].Data[i], v)
				}
			}
		}
	}
}

// BenchmarkInferenceFusions times ViT-B/16's patch embedding (batch 1,
// 4×96³) and one block's MLP (216 tokens, 768 → 3072 → 768; also with
// weights converted by ConvertBF16) with the inference fusions off and
// on, in float32 and Options.BF16, in one process so that the sides
// alternate under the same load.
func BenchmarkInferenceFusions(b *testing.B) {
	c := Config{InChannels: 4, ImgSize: Cube(96), PatchSize: Cube(16)}
	m, err := NewAutoEnc(c)
	if err != nil {
		b.Fatal(err)
	}
	x := nn.NewTensor(1, 4, 96, 96, 96)
	nn.InitNormal(x, 0, 1, nn.NewRNG(2))
	h := nn.NewTensor(1, 216, 768)
	nn.InitNormal(h, 0, 1, nn.NewRNG(3))
	mlp, conv := m.enc.blocks[0].mlp, m.enc.blocks[1].mlp
	if nn.HaveBF16() {
		if err := nn.ConvertBF16(conv); err != nil {
			b.Fatal(err)
		}
	}
	for _, bf := range []bool{false, true} {
		if bf && !nn.HaveBF16() {
			continue
		}
		for _, part := range []string{"patches", "mlp", "mlp-converted"} {
			if part == "mlp-converted" && !bf {
				continue
			}
			for _, fuse := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/bf16=%v/fused=%v", part, bf, fuse), func(b *testing.B) {
					defer func(m, p bool) { fuseMLP, fusePatches = m, p }(fuseMLP, fusePatches)
					fuseMLP, fusePatches = fuse, fuse
					g := nn.NewGraph(nn.Options{Arena: nn.NewArena(), BF16: bf})
					cpu0 := cputime.Now().Seconds()
					b.ResetTimer()
					for range b.N {
						g.Reset()
						switch part {
						case "patches":
							m.enc.patch.forwardPatches(g, x)
						case "mlp":
							mlp.forward(g, h, h)
						default:
							conv.forward(g, h, h)
						}
					}
					if cpu := cputime.Now().Seconds() - cpu0; cpu > 0 {
						b.ReportMetric(cpu*1e3/float64(b.N), "cpu-ms/op")
					}
					if err := g.Err(); err != nil {
						b.Fatal(err)
					}
				})
			}
		}
	}
}
