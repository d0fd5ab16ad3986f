package modelspec

import (
	"maps"
	"slices"
	"testing"
)

// The hashed ViT fixtures (testdata/vit, written by cnn/testdata/monai/gen.py
// --vit with MONAI 1.3.2): options the ../shared fixtures do not reach —
// perceptron patch embedding (proj_type and the older pos_embed spelling),
// anisotropic images and patches, post_activation=None and Tanh, dropout
// in evaluation, ViTAutoEnc out_channels/deconv_chns and up-kernels of 2.
// Every output (logits or features or recon, first and last hidden state)
// within the manifest's tolerance, state dicts equal to MONAI's.

func TestMONAIHashedViT(t *testing.T) {
	const dir = "testdata/vit"
	m, err := ReadHashManifest(dir + "/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Sorted(maps.Keys(m.Fixtures))
	if len(names) < 5 {
		t.Fatalf("only %d hashed ViT fixtures", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			r, err := CheckHashFixture(m, dir, name)
			if err != nil {
				t.Fatal(err)
			}
			f := m.Fixtures[name]
			if len(r.Outputs) != 3 {
				t.Fatalf("compared %d outputs, want 3", len(r.Outputs))
			}
			for out, o := range r.Outputs {
				t.Logf("%s: max abs error %.3g (tolerance %.3g, max|torch| %.3g, torch float32 vs float64 %.2g)",
					out, o.MaxAbsErr, o.Tol, f.MaxAbs[out], f.TorchRounding[out])
				if !o.OK {
					t.Errorf("%s: max abs error %g exceeds %g", out, o.MaxAbsErr, o.Tol)
				}
				if err := f.WellConditioned(out, o.Tol); err != nil {
					t.Error(err)
				}
			}
		})
	}
}
