package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
)

func TestCNNFixturesPass(t *testing.T) {
	p := fixture.Path(t, "golden", "models", "manifest.json")
	var out, errb bytes.Buffer
	code := run([]string{"-manifest", p, "-only", "resnet_basic_small,densenet_small,senext_small"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		var r struct {
			Fixture string
			OK      bool
			Outputs map[string]struct {
				MaxAbsErr float64 `json:"max_abs_err"`
			}
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil || !r.OK || len(r.Outputs) != 1 {
			t.Fatalf("line %s: %v", l, err)
		}
	}
}

// A manifest whose constructor is unknown, or has an unknown argument, or
// whose outputs are off, makes the command fail and name the problem.
func TestFailures(t *testing.T) {
	dir := filepath.Dir(fixture.Path(t, "golden", "models", "manifest.json"))
	write := func(monai string, output string) string {
		m := map[string]any{
			"tolerance": "max |go - torch| <= 1e-4 * max(1, max|torch|)",
			"fixtures": map[string]any{"f": map[string]any{
				"monai": monai, "weights": "resnet_basic_small.pt", "input": "resnet_basic_small.input.npy",
				"outputs": []map[string]any{{"name": "logits", "file": output}},
			}},
		}
		b, _ := json.Marshal(m)
		p := filepath.Join(t.TempDir(), "manifest.json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := "ResNet(block='basic', layers=[1, 1, 1, 1], block_inplanes=[8, 16, 32, 64], spatial_dims=3, n_input_channels=4, num_classes=3)"
	for _, tc := range []struct{ monai, output, want string }{
		{"ResNot(block='basic')", "resnet_basic_small.logits.npy", "unknown constructor: ResNot"},
		{strings.Replace(good, "num_classes=3", "num_classes=3, colour='red'", 1), "resnet_basic_small.logits.npy", "unknown argument(s) colour"},
		{strings.Replace(good, "block='basic'", "block='basic', shortcut_type='C'", 1), "resnet_basic_small.logits.npy", "shortcut_type"},
		{good, "resnet_bottleneck_small.logits.npy", `"ok":false`},
		{strings.Replace(good, "[8, 16, 32, 64]", "[8, 16, 32, 32]", 1), "resnet_basic_small.logits.npy", "layer4.0.conv1.weight"},
	} {
		var out, errb bytes.Buffer
		code := run([]string{"-manifest", write(tc.monai, tc.output), "-dir", dir}, &out, &errb)
		if code != 1 || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: exit %d, output %s; want exit 1 mentioning %q", tc.monai, code, out.String(), tc.want)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-bogus"}, &out, &errb); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
}

// The hashed manifests (no weight files: weights, input and output
// gradient seed recomputed from a hash) are checked the same way; a
// tampered expectation fails.
func TestHashedManifests(t *testing.T) {
	for _, tc := range []struct {
		manifest, only string
		outputs        int
	}{
		{"../../cnn/testdata/monai/manifest.json", "resnet_custom_w13,densenet121_opts", 2},
		{"../../cnn/testdata/monai/train/manifest.json", "train_densenet_small", 5},
		{"../../internal/modelspec/testdata/vit/manifest.json", "vit_cls_perceptron_aniso", 3},
	} {
		var out, errb bytes.Buffer
		code := run([]string{"-manifest", tc.manifest, "-only", tc.only}, &out, &errb)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", tc.manifest, code, out.String(), errb.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != len(strings.Split(tc.only, ",")) {
			t.Fatalf("%s: %d lines for %s", tc.manifest, len(lines), tc.only)
		}
		for _, l := range lines {
			var r struct {
				OK      bool
				Outputs map[string]any
			}
			if err := json.Unmarshal([]byte(l), &r); err != nil || !r.OK || len(r.Outputs) != tc.outputs {
				t.Fatalf("line %s: %v", l, err)
			}
		}
	}

	// The same fixture with another input hash fails with exit status 1.
	b, err := os.ReadFile("../../cnn/testdata/monai/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	// (bytes, not a re-encoded map: the state dicts' order matters)
	b = bytes.ReplaceAll(b, []byte(`"hash_tensor": 16777215`), []byte(`"hash_tensor": 12345`))
	p := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"-manifest", p, "-dir", "../../cnn/testdata/monai", "-only", "resnet_custom_w13"}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), `"ok":false`) || strings.Contains(out.String(), `"error"`) {
		t.Errorf("other input: exit %d, %s", code, out.String())
	}
}
