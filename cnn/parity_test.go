package cnn_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
	"github.com/metasurv/metasurv/internal/modelspec"
)

// cnnFixtures are the CNN fixtures of ../shared/golden/models: MONAI 1.3.2
// models with random weights, their inputs and logits.
var cnnFixtures = []string{"resnet_basic_small", "resnet_bottleneck_small", "resnet_shortcutA_nomaxpool",
	"densenet_small", "senext_small", "efficientnet_b0"}

func manifest(t *testing.T) (*modelspec.Manifest, string) {
	t.Helper()
	p := fixture.Path(t, "golden", "models", "manifest.json")
	m, err := modelspec.ReadManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	return m, filepath.Dir(p)
}

// Every CNN fixture, built from its MONAI constructor string by the code
// behind examples/modelcheck, gives MONAI's logits within the manifest's
// tolerance.
func TestFixtureParity(t *testing.T) {
	m, dir := manifest(t)
	for _, name := range cnnFixtures {
		t.Run(name, func(t *testing.T) {
			r, err := modelspec.CheckFixture(m, dir, name)
			if err != nil {
				t.Fatal(err)
			}
			for out, o := range r.Outputs {
				t.Logf("%s: max abs error %.3g (tolerance %.3g)", out, o.MaxAbsErr, o.Tol)
				if !o.OK {
					t.Errorf("%s: max abs error %g exceeds %g", out, o.MaxAbsErr, o.Tol)
				}
			}
			if len(r.Outputs) == 0 {
				t.Fatal("no outputs compared")
			}
		})
	}
}

// The full-size models' state dicts have MONAI's names, order and shapes
// (and parameter counts).
func TestFullSizeStateDictKeys(t *testing.T) {
	m, _ := manifest(t)
	n := 0
	for name, spec := range m.Keys {
		if strings.Contains(spec.MONAI, "ViT") {
			continue // the vit package's
		}
		n++
		t.Run(name, func(t *testing.T) {
			t.Parallel() // building is mostly single-threaded random initialisation
			if err := modelspec.CheckKeys(spec); err != nil {
				t.Fatal(err)
			}
		})
	}
	if n < 9 {
		t.Fatalf("only %d CNN key entries in the manifest", n)
	}
}
