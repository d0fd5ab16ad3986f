package vit_test

import (
	"context"
	"fmt"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/vit"
)

// Build a small ViTAutoEnc, embed a 4-sequence volume as a whole and per
// sequence, and run the LaMIM classifier on it. With real weights, load
// them first: vit.Load(ctx, model, "SSL_ViT_Block16.pth", vit.LoadOptions{}).
func Example() {
	cfg := vit.Config{InChannels: 4, OutChannels: 4, ImgSize: vit.Cube(32), PatchSize: vit.Cube(16),
		HiddenSize: 48, MLPDim: 96, NumLayers: 2, NumHeads: 4, Seed: 1}
	clf, err := vit.NewLaMIM(vit.LaMIMConfig{Encoder: cfg, Widths: [2]int{16, 8}, Classes: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	patient := nn.NewTensor(4, 32, 32, 32) // T1, T1c, T2, FLAIR
	nn.InitNormal(patient, 0, 1, nn.NewRNG(7))

	lat, err := vit.Latents(context.Background(), clf.Model, patient,
		vit.LatentOptions{Pool: vit.PoolLaMIM, PerSequence: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("latent:", len(lat.Full), "features,", len(lat.Sequences), "per-sequence latents")

	g := nn.NewGraph(nn.Options{})
	x, _ := patient.View(1, 4, 32, 32, 32)
	logits := clf.Forward(g, x)
	recon := clf.Model.Forward(g, x)
	if err := g.Err(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("logits:", logits.Shape, "reconstruction:", recon.Shape)
	// Output:
	// latent: 32 features, 4 per-sequence latents
	// logits: [1 3] reconstruction: [1 4 32 32 32]
}
