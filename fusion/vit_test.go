package fusion

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/vit"
)

// TestViTBackbone: a tiny ViT trained frozen (embeddings cached once, the
// foundation-model setting), saved, loaded through the "vit" registry
// entry, predicts the same bits and is explained by gradient saliency.
func TestViTBackbone(t *testing.T) {
	small := vit.Config{InChannels: 4, ImgSize: vit.Cube(16), PatchSize: vit.Cube(8), HiddenSize: 16, MLPDim: 32, NumLayers: 2, NumHeads: 2, Seed: 1}
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
	path := filepath.Join(t.TempDir(), "vit.safetensors")
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	mem, _ := NewPredictor(b, PredictorOptions{})
	disk, err := Load(path, PredictorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, d := predictAll(t, mem, test), predictAll(t, disk, test)
	aj, _ := json.Marshal(a)
	dj, _ := json.Marshal(d)
	if string(aj) != string(dj) {
		t.Fatal("ViT bundle predicts differently after Save/Load")
	}
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
