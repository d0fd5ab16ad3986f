package vit_test

import (
	"context"
	"fmt"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/vit"
	"github.com/metasurv/metasurv/volume"
)

// Where does a ViTAutoEnc look? The attention rollout of one patient,
// mapped onto the input grid as a volume to overlay on the T1c (or save
// with nifti.Save). With the LaMIM classifier, pass the classifier itself;
// with a ViT built with Classification, the map follows the cls token.
func ExampleAttentionRollout() {
	cfg := vit.Config{InChannels: 4, OutChannels: 4, ImgSize: vit.Cube(32), PatchSize: vit.Cube(16),
		HiddenSize: 48, MLPDim: 96, NumLayers: 2, NumHeads: 4, Seed: 1}
	model, err := vit.NewAutoEnc(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	patient := nn.NewTensor(1, 4, 32, 32, 32) // T1, T1c, T2, FLAIR
	nn.InitNormal(patient, 0, 1, nn.NewRNG(7))

	r, err := vit.AttentionRollout(context.Background(), model, patient,
		vit.RolloutOptions{Upsample: vit.UpsampleTrilinear})
	if err != nil {
		fmt.Println(err)
		return
	}
	sum := 0.0
	for _, w := range r.Patches[0] {
		sum += w
	}
	fmt.Printf("%d tokens on a %v patch grid; the patch weights sum to %.3f\n", r.Tokens, r.Grid, sum)
	sal, err := r.Volume(0, volume.Identity()) // the stack's affine in real use
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("saliency volume:", sal.Dims)
	// Output:
	// 8 tokens on a [2 2 2] patch grid; the patch weights sum to 1.000
	// saliency volume: [32 32 32]
}
