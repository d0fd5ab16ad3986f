package cnn_test

import (
	"testing"

	"github.com/metasurv/metasurv/cnn"
	"github.com/metasurv/metasurv/nn"
)

// TestDenseBlockInPlace: the inference pass, which writes each dense
// block's concatenation in place one sample at a time, gives the logits of
// the recorded pass, which concatenates with copies over the whole batch
// (the path training takes), for one sample and for a batch, on a fresh
// arena and on a reused one (buffers from the previous pass).
func TestDenseBlockInPlace(t *testing.T) {
	m, err := cnn.NewDenseNet(cnn.DenseNetConfig{InChannels: 2, Classes: 3, InitFeatures: 6, GrowthRate: 4, BlockConfig: []int{3, 2, 2}, BNSize: 3, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	// Non-trivial running statistics, so that every normalisation matters.
	r := nn.NewRNG(6)
	for _, p := range nn.NamedParameters(m) {
		nn.InitNormal(p.Tensor, 0, 0.3, r)
	}
	nn.SetTraining(m, false)
	arena := nn.NewGraph(nn.Options{Arena: nn.NewArena()})
	for _, n := range []int{1, 3, 1} {
		x := nn.NewTensor(n, 2, 20, 18, 16)
		nn.InitNormal(x, 0, 1, nn.NewRNG(uint64(n)))
		gr := nn.NewGraph(nn.Options{Grad: true})
		want := m.Forward(gr, x)
		if !gr.Recording() || gr.Err() != nil {
			t.Fatalf("recorded pass: %v", gr.Err())
		}
		for _, g := range []*nn.Graph{nn.NewGraph(nn.Options{}), arena} {
			g.Reset()
			got := m.Forward(g, x)
			if g.Err() != nil {
				t.Fatal(g.Err())
			}
			if !nn.SameShape(got.Shape, want.Shape) {
				t.Fatalf("batch %d: logits %v, want %v", n, got.Shape, want.Shape)
			}
			if d := maxAbsDiff(got.Data, want.Data); d > 1e-5 {
				t.Errorf("batch %d: in-place logits differ from the concatenating pass by %g", n, d)
			}
		}
	}
}
