package modelspec

import (
	"math"
	"sort"
	"strings"
	"testing"
)

// The hashed ViT fixtures (testdata/vit, written by cnn/testdata/monai/gen.py
// --vit with MONAI 1.3.2): options the ../shared fixtures do not reach —
// perceptron patch embedding (proj_type and the older pos_embed spelling),
// anisotropic images and patches, post_activation=None and Tanh, dropout
// in evaluation, ViTAutoEnc out_channels/deconv_chns and up-kernels of 2.
// Every output (logits or features or recon, first and last hidden state)
// within the manifest's tolerance, state dicts equal to MONAI's.
//
// knownViTMismatch lists fixtures vit does not match yet, with the error
// they must give until it does: MONAI 1.3.2's ViTAutoEnc uses transposed
// convolutions of kernel = stride = int(sqrt(patch)) per axis, vit.AutoEnc
// always 4 (the same for patch 16 only). When vit is fixed the fixture
// passes and this test fails, asking for the entry to go.
var knownViTMismatch = map[string]string{
	"vitautoenc_opts_aniso": "conv3d_transpose.weight: shape [48 8 4 4 4], want [48 8 4 4 2]",
	"vitautoenc_p4_aniso":   "conv3d_transpose.weight: shape [32 16 4 4 4], want [32 16 2 2 2]",
}

func TestMONAIHashedViT(t *testing.T) {
	const dir = "testdata/vit"
	m, err := ReadHashManifest(dir + "/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(m.Fixtures))
	for n := range m.Fixtures {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 5 {
		t.Fatalf("only %d hashed ViT fixtures", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			r, err := CheckHashFixture(m, dir, name)
			if want, known := knownViTMismatch[name]; known {
				if err == nil && r.OK {
					t.Fatalf("passes now: remove it from knownViTMismatch")
				}
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("known mismatch changed: got %v, %+v; want an error with %q", err, r.Outputs, want)
				}
				t.Logf("known vit mismatch (up-kernel int(sqrt(patch)) in MONAI, 4 in vit): %v", err)
				return
			}
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
				if rr, ok := f.TorchRounding[out]; !ok || rr > o.Tol/math.Max(1, f.MaxAbs[out])/10 {
					t.Errorf("%s: torch's float32 rounding error %g (recorded: %v) is not well below the tolerance", out, rr, ok)
				}
			}
		})
	}
}
