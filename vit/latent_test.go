package vit

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture/nnfixture"
	"github.com/metasurv/metasurv/nn"
)

// loadFixture builds m's weights from a manifest fixture and returns its
// input.
func loadFixture(t *testing.T, m nn.Module, name string) *nn.Tensor {
	t.Helper()
	man, dir := readManifest(t)
	fx := man.Fixtures[name]
	if _, err := Load(context.Background(), m, filepath.Join(dir, fx.Weights), LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	return nnfixture.ReadNpy(t, filepath.Join(dir, fx.Input))
}

// firstSample returns the first sample of a fixture batch, as one
// patient (C, D, H, W) and as a batch of one.
func firstSample(t *testing.T, x *nn.Tensor) (patient, batch *nn.Tensor) {
	t.Helper()
	n := len(x.Data) / x.Shape[0]
	patient, err := nn.FromData(x.Data[:n], x.Shape[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	batch, err = nn.FromData(x.Data[:n], append([]int{1}, x.Shape[1:]...)...)
	if err != nil {
		t.Fatal(err)
	}
	return patient, batch
}

// The cls pooling of Latents is the token MONAI's classification head
// reads: tanh(W·cls + b) of it gives the fixture's logits. The mean
// pooling averages the normalised patch tokens (the cls token left out),
// and for ViTAutoEnc all tokens, which is AutoEnc.Embed.
func TestLatentPools(t *testing.T) {
	c := Config{InChannels: 4, ImgSize: Cube(32), PatchSize: Cube(16), HiddenSize: 96, MLPDim: 192, NumLayers: 2, NumHeads: 4, Classification: true, NumClasses: 3}
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	x := loadFixture(t, m, "vit_cls_small")
	man, dir := readManifest(t)
	var wantLogits *nn.Tensor
	for _, o := range man.Fixtures["vit_cls_small"].Outputs {
		if o.Name == "logits" {
			wantLogits = nnfixture.ReadNpy(t, filepath.Join(dir, o.File))
		}
	}
	if wantLogits == nil {
		t.Fatal("fixture has no logits")
	}
	x0, x1 := firstSample(t, x)
	cls, err := Latents(context.Background(), m, x0, LatentOptions{Pool: PoolCLS})
	if err != nil {
		t.Fatal(err)
	}
	sd := nn.StateDict(m)
	w, b := sd["classification_head.0.weight"], sd["classification_head.0.bias"]
	if w == nil || b == nil || len(cls.Full) != c.HiddenSize {
		t.Fatalf("head %v %v, cls latent of %d", w, b, len(cls.Full))
	}
	for i := range c.NumClasses {
		s := float64(b.Data[i])
		for j, v := range cls.Full {
			s += float64(w.Data[i*c.HiddenSize+j]) * float64(v)
		}
		if d := math.Abs(math.Tanh(s) - float64(wantLogits.Data[i])); d > 1e-4 {
			t.Errorf("logit %d from the cls latent: %g, MONAI %g", i, math.Tanh(s), wantLogits.Data[i])
		}
	}

	g := nn.NewGraph(nn.Options{})
	enc := m.Encode(g, x1)
	if g.Err() != nil {
		t.Fatal(g.Err())
	}
	mean, err := Latents(context.Background(), m, x0, LatentOptions{PerSequence: true})
	if err != nil {
		t.Fatal(err)
	}
	T, h := enc.Normed.Shape[1], enc.Normed.Shape[2]
	for j := range h {
		var s float64
		for tok := 1; tok < T; tok++ { // token 0 is the cls token
			s += float64(enc.Normed.Data[tok*h+j])
		}
		if d := math.Abs(s/float64(T-1) - float64(mean.Full[j])); d > 1e-5 {
			t.Fatalf("mean latent feature %d: %g, by hand %g", j, mean.Full[j], s/float64(T-1))
		}
	}
	if len(mean.Sequences) != 4 || len(mean.Sequences[3]) != h {
		t.Fatalf("per-sequence latents %d", len(mean.Sequences))
	}

	ae := smallAutoEnc(t)
	xa := loadFixture(t, ae, "vitautoenc_small")
	xa0, xa1 := firstSample(t, xa)
	lat, err := Latents(context.Background(), ae, xa0, LatentOptions{Pool: PoolMean})
	if err != nil {
		t.Fatal(err)
	}
	emb := ae.Embed(nn.NewGraph(nn.Options{}), xa1)
	if e, _ := compare(lat.Full, emb.Data); e > 1e-6 || len(lat.Full) != 96 {
		t.Errorf("AutoEnc mean latent differs from Embed by %g", e)
	}
}
