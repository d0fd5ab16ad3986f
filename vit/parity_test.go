package vit

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
	"github.com/metasurv/metasurv/internal/fixture/nnfixture"
	"github.com/metasurv/metasurv/nn"
)

type manifest struct {
	Fixtures map[string]struct {
		MONAI   string `json:"monai"`
		Weights string `json:"weights"`
		Input   string `json:"input"`
		Outputs []struct {
			Name, File string
			Shape      []int
		} `json:"outputs"`
		Params int `json:"params"`
	} `json:"fixtures"`
	Keys map[string]struct {
		MONAI     string           `json:"monai"`
		StateDict map[string][]int `json:"state_dict"`
		Params    int              `json:"params"`
	} `json:"keys"`
}

func readManifest(t *testing.T) (manifest, string) {
	dir := fixture.Path(t, "golden", "models")
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m, dir
}

// outputsFunc runs a model and names its outputs as the manifest does.
type outputsFunc func(g *nn.Graph, x *nn.Tensor) map[string]*nn.Tensor

func fixtureModels(t *testing.T) map[string]struct {
	m   nn.Module
	out outputsFunc
} {
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	small := Config{InChannels: 4, ImgSize: Cube(32), PatchSize: Cube(16), HiddenSize: 96, MLPDim: 192, NumLayers: 2, NumHeads: 4}
	ae, err := NewAutoEnc(small)
	must(err)
	cls := small
	cls.Classification, cls.NumClasses = true, 3
	vc, err := New(cls)
	must(err)
	feat, err := New(Config{InChannels: 4, ImgSize: Cube(32), PatchSize: Cube(8), HiddenSize: 64, MLPDim: 128, NumLayers: 3, NumHeads: 8, QKVBias: true})
	must(err)
	lc := small
	lc.OutChannels = 4
	lm, err := NewLaMIM(LaMIMConfig{Encoder: lc, Widths: [2]int{16, 8}, Classes: 3})
	must(err)
	// withHidden names a model's output as the manifest does, with its
	// first and last hidden states.
	withHidden := func(m interface {
		ForwardHidden(*nn.Graph, *nn.Tensor) (*nn.Tensor, []*nn.Tensor)
	}, name string) outputsFunc {
		return func(g *nn.Graph, x *nn.Tensor) map[string]*nn.Tensor {
			r, h := m.ForwardHidden(g, x)
			return map[string]*nn.Tensor{name: r, "hidden_first": h[0], "hidden_last": h[len(h)-1]}
		}
	}
	type entry = struct {
		m   nn.Module
		out outputsFunc
	}
	return map[string]entry{
		"vitautoenc_small":       {ae, withHidden(ae, "recon")},
		"vit_cls_small":          {vc, withHidden(vc, "logits")},
		"vit_feat_p8_qkvbias":    {feat, withHidden(feat, "features")},
		"lamim_classifier_small": {lm, withHidden(lm, "logits")},
	}
}

// TestParityMONAI loads each fixture's MONAI 1.3.2 weights and compares
// every listed output with the manifest tolerance
// max|go − torch| ≤ 1e-4·max(1, max|torch|).
func TestParityMONAI(t *testing.T) {
	man, dir := readManifest(t)
	for name, e := range fixtureModels(t) {
		t.Run(name, func(t *testing.T) {
			fx, ok := man.Fixtures[name]
			if !ok {
				t.Fatalf("fixture %s not in manifest", name)
			}
			if _, err := Load(context.Background(), e.m, filepath.Join(dir, fx.Weights), LoadOptions{}); err != nil {
				t.Fatal(err)
			}
			if n := countParams(e.m); n != fx.Params {
				t.Errorf("%d parameters, manifest says %d", n, fx.Params)
			}
			x := nnfixture.ReadNpy(t, filepath.Join(dir, fx.Input))
			nn.SetTraining(e.m, false)
			g := nn.NewGraph(nn.Options{})
			outs := e.out(g, x)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			for _, o := range fx.Outputs {
				want := nnfixture.ReadNpy(t, filepath.Join(dir, o.File))
				got := outs[o.Name]
				if got == nil || !nn.SameShape(got.Shape, want.Shape) {
					t.Fatalf("%s: got shape %v, want %v", o.Name, shapeOf(got), want.Shape)
				}
				maxErr, maxRef := compare(got.Data, want.Data)
				tol := 1e-4 * math.Max(1, maxRef)
				t.Logf("%s/%s: max abs err %.3g (tol %.3g)", name, o.Name, maxErr, tol)
				if maxErr > tol || math.IsNaN(maxErr) {
					t.Errorf("%s: max abs err %g > tol %g", o.Name, maxErr, tol)
				}
			}
		})
	}
}

func shapeOf(t *nn.Tensor) []int {
	if t == nil {
		return nil
	}
	return t.Shape
}

func compare(got, want []float32) (maxErr, maxRef float64) {
	for i := range want {
		maxErr = math.Max(maxErr, math.Abs(float64(got[i])-float64(want[i])))
		if math.IsNaN(float64(got[i])) {
			maxErr = math.NaN()
		}
		maxRef = math.Max(maxRef, math.Abs(float64(want[i])))
	}
	return
}

func countParams(m nn.Module) int {
	n := 0
	nn.Walk(m, func(_ string, t *nn.Tensor, _ bool) { n += len(t.Data) })
	return n
}

// TestStateDictKeys checks that the full-size models name and shape their
// state dicts exactly as MONAI 1.3.2 does (manifest "keys").
func TestStateDictKeys(t *testing.T) {
	man, _ := readManifest(t)
	vitB := Config{InChannels: 4, ImgSize: Cube(96), PatchSize: Cube(16), SkipInit: true}
	cls := vitB
	cls.Classification, cls.NumClasses = true, 3
	build := map[string]func() (nn.Module, error){
		"ViTAutoEnc":       func() (nn.Module, error) { return NewAutoEnc(vitB) },
		"ViT":              func() (nn.Module, error) { return New(cls) },
		"LaMIM_ViTAutoEnc": func() (nn.Module, error) { c := LaMIMEncoder(); c.SkipInit = true; return NewAutoEnc(c) },
	}
	for name, mk := range build {
		t.Run(name, func(t *testing.T) {
			want, ok := man.Keys[name]
			if !ok {
				t.Fatalf("%s not in manifest keys", name)
			}
			m, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]int{}
			n := 0
			nn.Walk(m, func(k string, tt *nn.Tensor, _ bool) { got[k] = tt.Shape; n += len(tt.Data) })
			if err := diffKeys(got, want.StateDict); err != nil {
				t.Error(err)
			}
			if n != want.Params {
				t.Errorf("%d parameters, want %d", n, want.Params)
			}
		})
	}
}

func diffKeys(got, want map[string][]int) error {
	var msg string
	for k, s := range want {
		g, ok := got[k]
		switch {
		case !ok:
			msg += fmt.Sprintf(" missing %s;", k)
		case !nn.SameShape(g, s):
			msg += fmt.Sprintf(" %s: %v want %v;", k, g, s)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			msg += fmt.Sprintf(" extra %s;", k)
		}
	}
	if msg != "" {
		return fmt.Errorf("state dict differs:%s", msg)
	}
	return nil
}
