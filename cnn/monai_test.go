package cnn_test

import (
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/modelspec"
	"github.com/metasurv/metasurv/nn"
)

// The hashed MONAI fixtures (testdata/monai, written by gen.py with MONAI
// 1.3.2): the full-size models and the constructor options the small
// fixtures of ../shared do not reach, with weights and input that Go
// recomputes from an integer hash, and MONAI's logits and embeddings.

const hashDir = "testdata/monai"

func hashManifest(t *testing.T) *modelspec.HashManifest {
	t.Helper()
	m, err := modelspec.ReadHashManifest(hashDir + "/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// heavyHashFixtures take the longest (SENet154: 170M parameters, 2-4 s
// each); -short leaves them out. METASURV_HASHED=substring runs only the
// fixtures whose name contains it.
var heavyHashFixtures = map[string]bool{"senet154": true, "resnet200_nobias": true, "resnet152": true,
	"seresnet152": true, "efficientnet_b7": true, "densenet264": true}

// Every hashed fixture: MONAI's state-dict names, order, shapes and
// parameter count, then logits and embedding within the manifest's
// tolerance.
func TestMONAIHashedFixtures(t *testing.T) {
	m := hashManifest(t)
	names := slices.Sorted(maps.Keys(m.Fixtures))
	if len(names) < 25 {
		t.Fatalf("only %d hashed fixtures", len(names))
	}
	for n := range heavyHashFixtures {
		if _, ok := m.Fixtures[n]; !ok {
			t.Errorf("heavyHashFixtures names %s, which the manifest lacks", n)
		}
	}
	only := os.Getenv("METASURV_HASHED")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if only != "" && !strings.Contains(name, only) {
				t.Skip("METASURV_HASHED=" + only)
			}
			if testing.Short() && heavyHashFixtures[name] {
				t.Skip("full-size heavy model (-short)")
			}
			r, err := modelspec.CheckHashFixture(m, hashDir, name)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Outputs) != 2 {
				t.Fatalf("compared %d outputs, want logits and embed", len(r.Outputs))
			}
			f := m.Fixtures[name]
			for out, o := range r.Outputs {
				t.Logf("%s: max abs error %.3g (tolerance %.3g, max|torch| %.3g, torch float32 vs float64 %.2g relative)",
					out, o.MaxAbsErr, o.Tol, f.MaxAbs[out], f.TorchRounding[out])
				if !o.OK {
					t.Errorf("%s: max abs error %g exceeds %g", out, o.MaxAbsErr, o.Tol)
				}
				if err := f.WellConditioned(out, o.Tol); err != nil {
					t.Error(err)
				}
			}
			runtime.GC() // the full-size models are hundreds of MB each
		})
	}
}

// The fixtures can fail: the outputs differ clearly between the two batch
// items, and a perturbed weight, a different option with the same state
// dict, or another input are all caught.
func TestMONAIHashedFixturesCanFail(t *testing.T) {
	m := hashManifest(t)
	const name = "resnet50_nobias_w05"
	f := m.Fixtures[name]
	if f.MaxAbs["logits"] < 1 || f.MaxAbs["logits"] > 1000 {
		t.Errorf("max|logit| %g: want O(1–100) so that the absolute tolerance is not everything", f.MaxAbs["logits"])
	}
	fail := func(what string, r modelspec.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if r.OK {
			t.Errorf("%s: the comparison passed: %+v", what, r.Outputs)
		}
		for out, o := range r.Outputs {
			t.Logf("%s: %s error %.3g (tolerance %.3g)", what, out, o.MaxAbsErr, o.Tol)
		}
	}

	// In one fixture per family, one filter of the convolution in the
	// middle of the state dict 10% larger.
	for _, fam := range []string{name, "densenet121_opts", "seresnext50", "efficientnet_b0_c1_k5"} {
		ff := m.Fixtures[fam]
		model, err := ff.Build()
		if err != nil {
			t.Fatal(err)
		}
		var convs []*nn.Tensor
		var names []string
		nn.Walk(model.Module, func(n string, x *nn.Tensor, _ bool) {
			if len(x.Shape) == 5 {
				convs, names = append(convs, x), append(names, n)
			}
		})
		c := convs[len(convs)/2]
		for i := range c.Data[:len(c.Data)/c.Shape[0]] {
			c.Data[i] *= 1.1
		}
		r, err := m.Compare(hashDir, fam, model)
		fail(fam+": perturbed filter of "+names[len(convs)/2], r, err)
	}

	// The same state dict with another stem stride.
	g := f
	g.MONAI = strings.Replace(f.MONAI, ")", ", conv1_t_stride=2)", 1)
	model, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.Compare(hashDir, name, model)
	fail("conv1_t_stride=2", r, err)

	// Another hashed input: the outputs depend on it.
	g = f
	model, err = g.Build()
	if err != nil {
		t.Fatal(err)
	}
	mm := *m
	mm.Fixtures = map[string]modelspec.HashFixture{name: g}
	h := mm.Fixtures[name]
	h.Input.HashTensor--
	mm.Fixtures[name] = h
	r, err = mm.Compare(hashDir, name, model)
	fail("other input", r, err)

	// Another option that changes the state dict is refused by name.
	g = f
	g.MONAI = strings.Replace(f.MONAI, "bias_downsample=False", "bias_downsample=True", 1)
	if _, err := g.Build(); err == nil || !strings.Contains(err.Error(), "unexpected layer1.0.downsample.0.bias") {
		t.Errorf("bias_downsample=True: got %v, want the unexpected downsample biases named", err)
	}
}

// Training mode against MONAI (testdata/monai/train, gen.py --train): batch
// statistics, the running-mean update (EfficientNet with drop-connect and
// dropout off on both sides), and one backward pass seeded with hashed
// output gradients — logits, the final Linear's gradients, the
// stem's first two filter gradients and the first running mean, against a
// float64 torch run (tolerance per output: 4x torch's own float32 error,
// at least 1e-4).
func TestMONAIHashedTraining(t *testing.T) {
	const dir = hashDir + "/train"
	m, err := modelspec.ReadHashManifest(dir + "/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Sorted(maps.Keys(m.Fixtures))
	if len(names) < 4 {
		t.Fatalf("only %d training fixtures", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			r, err := modelspec.CheckHashTraining(m, dir, name)
			if err != nil {
				t.Fatal(err)
			}
			f := m.Fixtures[name]
			if len(r.Outputs) != len(f.Outputs) || len(r.Outputs) < 5 {
				t.Fatalf("compared %d outputs of %d", len(r.Outputs), len(f.Outputs))
			}
			for out, o := range r.Outputs {
				t.Logf("%s: max abs error %.3g (tolerance %.3g, max|torch| %.3g, torch float32 vs float64 %.2g)",
					out, o.MaxAbsErr, o.Tol, f.MaxAbs[out], f.TorchRounding[out])
				if !o.OK {
					t.Errorf("%s: max abs error %g exceeds %g", out, o.MaxAbsErr, o.Tol)
				}
			}
			runtime.GC()
		})
	}
	// The gradients depend on the seed: another seed must fail them (and
	// only them).
	mm := *m
	f := m.Fixtures["train_resnet18_w05"]
	f.SeedTensor--
	mm.Fixtures = map[string]modelspec.HashFixture{"train_resnet18_w05": f}
	r, err := modelspec.CheckHashTraining(&mm, dir, "train_resnet18_w05")
	if err != nil {
		t.Fatal(err)
	}
	for out, o := range r.Outputs {
		if grad := strings.HasPrefix(out, "grad"); grad == o.OK && !strings.HasSuffix(out, ".bias") {
			t.Errorf("other seed: %s passes=%v (error %.3g, tolerance %.3g)", out, o.OK, o.MaxAbsErr, o.Tol)
		}
	}
	// EfficientNet's drop-connect acts in training: left on, the logits
	// are MONAI's no more.
	f = m.Fixtures["train_efficientnet_b0_nodrop"]
	f.NoDropout = false
	mm.Fixtures = map[string]modelspec.HashFixture{"train_efficientnet_b0_nodrop": f}
	r, err = modelspec.CheckHashTraining(&mm, dir, "train_efficientnet_b0_nodrop")
	if err != nil {
		t.Fatal(err)
	}
	if o := r.Outputs["logits"]; o.OK {
		t.Errorf("drop-connect on: logits error %.3g within tolerance %.3g", o.MaxAbsErr, o.Tol)
	}
}
