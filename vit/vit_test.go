package vit

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture/nnfixture"
	"github.com/metasurv/metasurv/nn"
)

// The perceptron patch embedding, (p1 p2 p3 c) features through a Linear,
// equals the conv embedding whose kernel is the same weights permuted.
func TestPerceptronMatchesConv(t *testing.T) {
	base := Config{InChannels: 2, ImgSize: [3]int{8, 16, 8}, PatchSize: [3]int{4, 8, 2}, HiddenSize: 16, MLPDim: 8, NumLayers: 1, NumHeads: 2, Classification: true, Seed: 4}
	conv, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	pc := base
	pc.ProjType = "perceptron"
	perc, err := New(pc)
	if err != nil {
		t.Fatal(err)
	}
	sd := nn.StateDict(conv)
	w := sd["patch_embedding.patch_embeddings.weight"] // [h, c, p1, p2, p3]
	lin := nn.NewTensor(16, 4*8*2*2)
	for o := range 16 {
		for c := range 2 {
			for a := range 4 {
				for b := range 8 {
					for d := range 2 {
						lin.Data[o*128+((a*8+b)*2+d)*2+c] = w.Data[(((o*2+c)*4+a)*8+b)*2+d]
					}
				}
			}
		}
	}
	psd := map[string]*nn.Tensor{}
	for k, v := range sd {
		switch k {
		case "patch_embedding.patch_embeddings.weight":
			psd["patch_embedding.patch_embeddings.1.weight"] = lin
		case "patch_embedding.patch_embeddings.bias":
			psd["patch_embedding.patch_embeddings.1.bias"] = v
		default:
			psd[k] = v
		}
	}
	if _, err := nn.LoadStateDict(perc, psd, nn.LoadOptions{Strict: true}); err != nil {
		t.Fatal(err)
	}
	x := nn.NewTensor(2, 2, 8, 16, 8)
	nn.InitNormal(x, 0, 1, nn.NewRNG(9))
	g := nn.NewGraph(nn.Options{})
	a, ha := conv.ForwardHidden(g, x)
	b, hb := perc.ForwardHidden(g, x)
	if g.Err() != nil {
		t.Fatal(g.Err())
	}
	if e, _ := compare(a.Data, b.Data); e > 1e-5 {
		t.Errorf("logits differ by %g", e)
	}
	if e, _ := compare(ha[0].Data, hb[0].Data); e > 1e-5 {
		t.Errorf("hidden states differ by %g", e)
	}
}

// Training: gradients reach every parameter of each model, and dropout
// makes training outputs differ from evaluation outputs only when on.
func TestTrainingStep(t *testing.T) {
	c := Config{InChannels: 4, ImgSize: Cube(32), PatchSize: Cube(16), HiddenSize: 32, MLPDim: 64, NumLayers: 2, NumHeads: 4, DropoutRate: 0.3, Classification: true, NumClasses: 3}
	v, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	lc := c
	lc.OutChannels = 4
	l, err := NewLaMIM(LaMIMConfig{Encoder: lc, Widths: [2]int{8, 4}})
	if err != nil {
		t.Fatal(err)
	}
	x := nn.NewTensor(2, 4, 32, 32, 32)
	nn.InitNormal(x, 0, 1, nn.NewRNG(1))
	for name, m := range map[string]nn.Module{"vit": v, "lamim": l} {
		nn.SetTraining(m, false)
		g := nn.NewGraph(nn.Options{})
		ev := m.Forward(g, x)
		ev2 := m.Forward(g, x)
		if e, _ := compare(ev.Data, ev2.Data); e != 0 {
			t.Errorf("%s: evaluation is not deterministic", name)
		}
		nn.SetTraining(m, true)
		g = nn.NewGraph(nn.Options{Grad: true, RNG: nn.NewRNG(5)})
		out := m.Forward(g, x)
		if e, _ := compare(out.Data, ev.Data); e == 0 {
			t.Errorf("%s: dropout had no effect in training", name)
		}
		loss := g.CrossEntropy(out, []int{0, 2}, nn.CEOptions{})
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		for _, p := range nn.NamedParameters(m) {
			if name == "lamim" && (strings.HasPrefix(p.Name, "model.conv3d") || strings.HasPrefix(p.Name, "model.norm.")) {
				continue // the decoder and final norm are not on the classifier's path
			}
			gr := p.Tensor.Grad()
			if gr == nil {
				t.Errorf("%s: no gradient for %s", name, p.Name)
				continue
			}
			nz := false
			for _, x := range gr.Data {
				nz = nz || x != 0
			}
			if !nz && p.Name != "cls_token" {
				t.Errorf("%s: zero gradient for %s", name, p.Name)
			}
		}
		nn.SetTraining(m, false)
	}
}

// Wrong inputs and configurations are errors, not panics.
func TestBadInputs(t *testing.T) {
	m := smallAutoEnc(t)
	g := nn.NewGraph(nn.Options{})
	m.Forward(g, nn.NewTensor(1, 3, 32, 32, 32))
	if g.Err() == nil {
		t.Error("3-channel input accepted")
	}
	for _, c := range []Config{
		{},
		{InChannels: 1, ImgSize: Cube(32), PatchSize: Cube(0)},
		{InChannels: 1, ImgSize: Cube(32), PatchSize: Cube(16), HiddenSize: 10, NumHeads: 3},
		{InChannels: 1, ImgSize: Cube(32), PatchSize: Cube(16), ProjType: "mlp"},
		{InChannels: 1, ImgSize: Cube(32), PatchSize: Cube(16), DropoutRate: 2},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := NewLaMIM(LaMIMConfig{Encoder: Config{InChannels: 1, ImgSize: Cube(16), PatchSize: Cube(16), HiddenSize: 2, NumHeads: 1}}); err == nil {
		t.Error("LaMIM pool of 1 token accepted")
	}
}

// With Options.BF16 (where the CPU has AVX512_BF16) the fixture's outputs
// stay within a bfloat16 tolerance of float32.
func TestBF16CloseToFloat32(t *testing.T) {
	if !nn.HaveBF16() {
		t.Skip("no bfloat16 GEMM on this CPU")
	}
	man, dir := readManifest(t)
	fx := man.Fixtures["vit_cls_small"]
	c := Config{InChannels: 4, ImgSize: Cube(32), PatchSize: Cube(16), HiddenSize: 96, MLPDim: 192, NumLayers: 2, NumHeads: 4, Classification: true, NumClasses: 3}
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(context.Background(), m, filepath.Join(dir, fx.Weights), LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	x := nnfixture.ReadNpy(t, filepath.Join(dir, fx.Input))
	g32, g16 := nn.NewGraph(nn.Options{}), nn.NewGraph(nn.Options{BF16: true})
	a, b := m.Encode(g32, x), m.Encode(g16, x)
	if g32.Err() != nil || g16.Err() != nil {
		t.Fatal(g32.Err(), g16.Err())
	}
	e, ref := compare(b.Normed.Data, a.Normed.Data)
	t.Logf("bf16 vs float32: max abs diff %.3g (max |x| %.3g)", e, ref)
	if e > 0.05*ref || e == 0 {
		t.Errorf("bf16 features differ by %g (max %g): want a small non-zero difference", e, ref)
	}
	// converted to resident bfloat16 weights (nn.ConvertBF16): as close
	if err := nn.ConvertBF16(m); err != nil {
		t.Fatal(err)
	}
	gc := nn.NewGraph(nn.Options{BF16: true})
	ec := m.Encode(gc, x)
	if gc.Err() != nil {
		t.Fatal(gc.Err())
	}
	e32, _ := compare(ec.Normed.Data, a.Normed.Data)
	e16, _ := compare(ec.Normed.Data, b.Normed.Data)
	t.Logf("converted bf16 vs float32: %.3g; vs unconverted bf16: %.3g", e32, e16)
	if e32 > 0.05*ref || e16 > 0.005*ref {
		t.Errorf("converted bf16 features differ by %g from float32, %g from unconverted bf16 (max %g)", e32, e16, ref)
	}
}

// Without MONAI's default Tanh the head is a bare Linear named
// classification_head.*, and the logits are not squashed.
func TestNoPostActivation(t *testing.T) {
	c := Config{InChannels: 1, ImgSize: Cube(16), PatchSize: Cube(8), HiddenSize: 8, MLPDim: 8, NumLayers: 1, NumHeads: 2, Classification: true, NumClasses: 2, Seed: 3}
	tanh, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	c.NoPostActivation = true
	lin, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	sd := nn.StateDict(lin)
	if _, ok := sd["classification_head.weight"]; !ok {
		t.Fatalf("keys %v lack classification_head.weight", len(sd))
	}
	if _, ok := nn.StateDict(tanh)["classification_head.0.weight"]; !ok {
		t.Fatal("Tanh head lacks classification_head.0.weight")
	}
	x := nn.NewTensor(1, 1, 16, 16, 16)
	nn.InitNormal(x, 0, 3, nn.NewRNG(1))
	g := nn.NewGraph(nn.Options{})
	a, b := tanh.Forward(g, x), lin.Forward(g, x)
	for i := range a.Data {
		if math.Abs(float64(a.Data[i])-math.Tanh(float64(b.Data[i]))) > 1e-6 {
			t.Fatalf("logit %d: %g, want tanh(%g)", i, a.Data[i], b.Data[i])
		}
	}
}

// The reconstruction's transposed convolutions follow MONAI ≥ 1.3 by
// default (kernel = stride = √patch per axis, so the output has the
// input's size), refuse patches that are not perfect squares as MONAI
// does, and take MONAI ≤ 1.2's fixed kernel 4 through DeconvKernel.
func TestDeconvKernel(t *testing.T) {
	x := nn.NewTensor(1, 2, 16, 32, 8)
	nn.InitNormal(x, 0, 1, nn.NewRNG(3))
	for _, tc := range []struct {
		patch, kernel [3]int
		want          []int
		wantShape     []int
	}{
		{[3]int{16, 16, 4}, [3]int{}, []int{5, 3, 4, 4, 2}, []int{1, 1, 16, 32, 8}},
		{[3]int{4, 16, 1}, [3]int{}, []int{5, 3, 2, 4, 1}, []int{1, 1, 16, 32, 8}},
		{[3]int{8, 8, 8}, Cube(4), []int{5, 3, 4, 4, 4}, []int{1, 1, 32, 64, 16}},
	} {
		ae, err := NewAutoEnc(Config{InChannels: 2, ImgSize: [3]int{16, 32, 8}, PatchSize: tc.patch, DeconvKernel: tc.kernel,
			HiddenSize: 5, NumHeads: 1, MLPDim: 4, NumLayers: 1, DeconvChannels: 3})
		if err != nil {
			t.Fatalf("patch %v: %v", tc.patch, err)
		}
		if got := ae.deconv.Weight.Shape; !slices.Equal(got, tc.want) {
			t.Errorf("patch %v kernel %v: conv3d_transpose.weight %v, want %v", tc.patch, tc.kernel, got, tc.want)
		}
		g := nn.NewGraph(nn.Options{})
		y := ae.Forward(g, x)
		if err := g.Err(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(y.Shape, tc.wantShape) {
			t.Errorf("patch %v kernel %v: reconstruction %v, want %v", tc.patch, tc.kernel, y.Shape, tc.wantShape)
		}
	}
	for _, c := range []Config{
		{InChannels: 1, ImgSize: Cube(16), PatchSize: Cube(8)},
		{InChannels: 1, ImgSize: Cube(16), PatchSize: [3]int{4, 4, 2}},
		{InChannels: 1, ImgSize: Cube(16), PatchSize: Cube(8), DeconvKernel: [3]int{4, 0, 4}},
	} {
		if _, err := NewAutoEnc(c); !errors.Is(err, ErrConfig) {
			t.Errorf("patch %v kernel %v: err %v, want ErrConfig", c.PatchSize, c.DeconvKernel, err)
		}
	}
}
