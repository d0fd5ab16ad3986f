package vit

import (
	"fmt"
	"math"
	"testing"

	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/nn"
)

// TestPatchesMatchConv: the inference patch embedding (patches through
// the convolution's weight read as a Linear, bias and position embeddings
// fused) equals the convolution path that recording graphs keep, for
// anisotropic patches, odd channel counts, batch 1 (position embeddings
// fused) and 3 (added after), on one and two threads; and on batch 1 the
// pass holds only the tokens, and the patch rows unless they are read
// through nn.Graph.LinearRows (the path was taken).
func TestPatchesMatchConv(t *testing.T) {
	defer nn.SetThreads(0)
	c, err := Config{InChannels: 3, ImgSize: [3]int{8, 12, 10}, PatchSize: [3]int{4, 3, 5}, HiddenSize: 24, MLPDim: 8, NumLayers: 1, NumHeads: 2, Seed: 7}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	p := newPatchEmbedding(c, nn.NewRNG(1), nn.NewRNG(2))
	nn.InitNormal(p.conv.Bias, 0, 1, nn.NewRNG(3))
	_, n := c.grid()
	dim := 3 * 4 * 3 * 5
	for _, threads := range []int{1, 2} {
		nn.SetThreads(threads)
		for _, b := range []int{1, 3} {
			x := nn.NewTensor(b, 3, 8, 12, 10)
			nn.InitNormal(x, 0, 1, nn.NewRNG(uint64(b)))
			a := nn.NewArena()
			g := nn.NewGraph(nn.Options{Arena: a})
			got := p.Forward(g, x)
			if b == 1 {
				// the patch rows are not stored where they are read
				// through nn.Graph.LinearRows
				want, what := int64(4*n*(dim+c.HiddenSize)), "patches and tokens"
				if fusePatches && gemm.SourceApplies(n, c.HiddenSize, false) {
					want, what = int64(4*n*c.HiddenSize), "tokens"
				}
				if used := a.Bytes(); used != want {
					t.Errorf("batch 1: the pass used %d arena bytes, want %d (%s)", used, want, what)
				}
			}
			rg := nn.NewGraph(nn.Options{Grad: true}) // records: the convolution path
			want := p.Forward(rg, x)
			if err := firstErr(g.Err(), rg.Err()); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("threads %d batch %d", threads, b)
			if !nn.SameShape(got.Shape, want.Shape) {
				t.Fatalf("%s: shape %v, want %v", name, got.Shape, want.Shape)
			}
			for i, w := range want.Data {
				if d := math.Abs(float64(got.Data[i] - w)); d > 1e-5*(1+math.Abs(float64(w))) {
					t.Fatalf("%s: element %d = %v, want %v", name, i, got.Data[i], w)
				}
			}
		}
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
