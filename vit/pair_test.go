package vit

import (
	"fmt"
	"math"
	"testing"

	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/nn"
)

// TestMLPPairBits checks that AutoEnc's encoding is bit for bit the same
// with the MLP's two Linears fused (Linear.ForwardPair: the hidden
// activations handed over inside the GEMM) and unfused, in float32 and
// with Options.BF16 (weights large enough to be rounded per call), on
// batches of more than one image, tokens not a multiple of 32 and an MLP
// width not a multiple of 32. It also checks that the fused scheme
// applies to these shapes, so the comparison is not of one path with
// itself.
func TestMLPPairBits(t *testing.T) {
	for _, tc := range []struct {
		batch, img, mlp int
	}{{2, 64, 1024}, {3, 48, 1030}} {
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
			if !gemm.PairApplies(rows, tc.mlp, c.HiddenSize, bf) {
				t.Logf("%s: the fused scheme does not apply on this machine", name)
				continue
			}
			enc := func(fuse bool) []*nn.Tensor {
				defer func(f bool) { fuseMLP = f }(fuseMLP)
				fuseMLP = fuse
				g := nn.NewGraph(nn.Options{BF16: bf})
				e := m.Encode(g, x)
				if err := g.Err(); err != nil {
					t.Fatal(err)
				}
				return append(e.Hidden, e.Normed)
			}
			want, got := enc(false), enc(true)
			for l := range want {
				for i, v := range want[l].Data {
					if math.Float32bits(got[l].Data[i]) != math.Float32bits(v) {
						t.Fatalf("%s: output %d [%d] = %v fused, %v unfused", name, l, i, got[l].Data[i], v)
					}
				}
			}
		}
	}
}
