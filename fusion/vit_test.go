package fusion

import (
	"context"
	"math"
	"testing"

	"github.com/metasurv/metasurv/cnn"
	"github.com/metasurv/metasurv/survival"
	"github.com/metasurv/metasurv/vit"
)

// TestViTBackbone: a tiny ViT trained frozen (embeddings cached once, the
// foundation-model setting), saved, loaded through the "vit" registry
// entry, predicts the same bits and is explained by gradient saliency.
func TestViTBackbone(t *testing.T) {
	small := vit.Config{InChannels: 4, ImgSize: vit.Cube(16), PatchSize: vit.Cube(8), DeconvKernel: vit.Cube(4), HiddenSize: 16, MLPDim: 32, NumLayers: 2, NumHeads: 2, Seed: 1}
	for _, spec := range []ViTSpec{
		{Kind: "vit", Config: small},
		{Kind: "lamim", LaMIM: vit.LaMIMConfig{Encoder: small, Widths: [2]int{8, 4}, Seed: 1}},
	} {
		t.Run(spec.Kind, func(t *testing.T) { testViT(t, spec) })
	}
}

func testViT(t *testing.T, spec ViTSpec) {
	c, _ := synthCohort(synthOptions{N: 24, Dim: 16, Seed: 9})
	train, test := c.Subset(seq(0, 20)), c.Subset(seq(20, 24))
	enc, err := FitEncoder(synthSchema(), records(train))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewViTModel(spec, ModelConfig{Fusion: Gated, ClinicalDim: enc.Dim(), Hidden: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Train(context.Background(), m, enc, train, nil, TrainOptions{Epochs: 2, BatchSize: 4, Seed: 1, FrozenBackbone: true})
	if err != nil {
		t.Fatal(err)
	}
	disk, _ := savedAndLoaded(t, b, test, "ViT")
	s := test.Samples[0]
	ex, err := disk.Explain(context.Background(), Patient{Stack: stackOf(test, s), Clinical: s.Clinical})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Saliency == nil || ex.Method != "gradient" {
		t.Fatalf("ViT explanation %q", ex.Method)
	}
	if _, err := NewViTModel(ViTSpec{Kind: "swin"}, ModelConfig{Fusion: Early, ClinicalDim: enc.Dim()}); err == nil {
		t.Fatal("unknown vit kind accepted")
	}
}

// TestCompareBackbones runs the study's comparison shape in miniature: a
// frozen foundation model, fine-tuned CNNs and a clinical-only model under
// one split.
func TestCompareBackbones(t *testing.T) {
	c, _ := synthCohort(synthOptions{N: 40, Dim: 16, Seed: 12})
	train, val, test := c.Subset(seq(0, 24)), c.Subset(seq(24, 30)), c.Subset(seq(30, 40))
	enc, err := FitEncoder(synthSchema(), records(train))
	if err != nil {
		t.Fatal(err)
	}
	cfg := ModelConfig{Fusion: Early, ClinicalDim: enc.Dim(), Hidden: 8, Seed: 1}
	small := vit.Config{InChannels: 4, ImgSize: vit.Cube(16), PatchSize: vit.Cube(8), DeconvKernel: vit.Cube(4), HiddenSize: 16, MLPDim: 32, NumLayers: 2, NumHeads: 2, Seed: 1}
	cands := []Candidate{
		{Name: "foundation model (frozen) + clinical", FrozenBackbone: true, New: func() (*Model, error) {
			return NewViTModel(ViTSpec{Kind: "lamim", LaMIM: vit.LaMIMConfig{Encoder: small, Widths: [2]int{8, 4}, Seed: 1}}, cfg)
		}},
		{Name: "ResNet18 + clinical", New: func() (*Model, error) {
			return NewCNNModel("resnet18", cnn.Config{InChannels: 4, WidenFactor: 0.125, Conv1TSize: 3, Conv1TStride: 2, Seed: 1}, cfg)
		}},
		{Name: "ResNet50 + clinical", New: func() (*Model, error) {
			return NewCNNModel("resnet50", cnn.Config{InChannels: 4, WidenFactor: 0.0625, Conv1TSize: 3, Conv1TStride: 2, Seed: 1}, cfg)
		}},
		{Name: "clinical only", New: func() (*Model, error) {
			c := cfg
			c.Fusion = ClinicalOnly
			return NewModel(nil, c)
		}},
	}
	cmp, err := Compare(context.Background(), enc, train, val, test, cands, CompareOptions{
		Train:     TrainOptions{Epochs: 2, BatchSize: 6, Seed: 1},
		Bootstrap: survival.BootstrapOptions{Resamples: 50, Seed: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + cmp.Markdown())
	if len(cmp.Results) != 4 || cmp.N != 10 {
		t.Fatalf("%d results for %d patients", len(cmp.Results), cmp.N)
	}
	for _, r := range cmp.Results {
		if math.IsNaN(r.Metrics.CIndex) || len(r.Probs) != 10 {
			t.Errorf("%s: C %v, %d predictions", r.Name, r.Metrics.CIndex, len(r.Probs))
		}
	}
}
