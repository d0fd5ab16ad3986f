package vit_test

import (
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
	"github.com/metasurv/metasurv/internal/modelspec"
)

// TestModelcheckFixtures runs the transformer fixtures through the same
// code as examples/modelcheck (constructor string → model → strict load →
// outputs within the manifest tolerance).
func TestModelcheckFixtures(t *testing.T) {
	p := fixture.Path(t, "golden", "models", "manifest.json")
	man, err := modelspec.ReadManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"vitautoenc_small", "vit_cls_small", "vit_feat_p8_qkvbias", "lamim_classifier_small"} {
		r, err := modelspec.CheckFixture(man, filepath.Dir(p), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !r.OK {
			t.Errorf("%s: %+v", name, r.Outputs)
		}
	}
	for _, name := range []string{"ViT", "ViTAutoEnc", "LaMIM_ViTAutoEnc"} {
		if err := modelspec.CheckKeys(man.Keys[name]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestConstructorErrors: unknown arguments and impossible geometries are
// refused with errors naming them.
func TestConstructorErrors(t *testing.T) {
	for _, src := range []string{
		"ViT(in_channels=4, img_size=32, patch_size=16, hidden_size=96, num_heads=5)",
		"ViT(in_channels=4, img_size=30, patch_size=16)",
		"ViTAutoEnc(in_channels=4, img_size=32, patch_size=16, colour='red')",
		"ViT(in_channels=4, img_size=32, patch_size=16, pos_embed='sine')",
		"ViT(in_channels=4, img_size=32, patch_size=16, pos_embed_type='sincos')",
		"LaMIMClassifier(ViTAutoEnc(in_channels=4, img_size=32, patch_size=16, hidden_size=96, num_heads=4), flat=7)",
		"LaMIMClassifier(ViT(in_channels=4, img_size=32, patch_size=16))",
	} {
		if _, err := modelspec.Build(src); err == nil {
			t.Errorf("%s: no error", src)
		} else {
			t.Logf("%s: %v", src, err)
		}
	}
}
