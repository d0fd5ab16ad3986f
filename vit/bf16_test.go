package vit

import (
	"testing"

	"github.com/metasurv/metasurv/nn"
)

// A LaMIM-shaped classifier converted by nn.ConvertBF16 (every Linear and
// the patch embedding held in bfloat16) stays within bfloat16 tolerance of
// the float32 model, and its Options.BF16 pass is nearly that of the
// unconverted model with Options.BF16 (both round the weights alike).
func TestConvertBF16LaMIMShaped(t *testing.T) {
	c := LaMIMConfig{
		Encoder: Config{InChannels: 4, ImgSize: Cube(32), PatchSize: Cube(16), HiddenSize: 128, MLPDim: 192, NumLayers: 2, NumHeads: 8, Seed: 3},
		Widths:  [2]int{32, 16}, Seed: 4,
	}
	ref, err := NewLaMIM(c)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := NewLaMIM(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.ConvertBF16(conv); err != nil {
		t.Fatal(err)
	}
	x := nn.NewTensor(1, 4, 32, 32, 32)
	nn.InitNormal(x, 0, 1, nn.NewRNG(5))
	run := func(m *LaMIMClassifier, bf bool) (logits, hidden []float32) {
		t.Helper()
		g := nn.NewGraph(nn.Options{BF16: bf})
		y := m.Forward(g, x)
		e := m.Encode(g, x)
		if err := g.Err(); err != nil {
			t.Fatal(err)
		}
		return y.Data, e.Last().Data
	}
	y32, h32 := run(ref, false)
	yc, hc := run(conv, false)
	for _, cmp := range []struct {
		what      string
		got, want []float32
		tol       float64
	}{
		{"float32 graph, logits", yc, y32, 0.05},
		{"float32 graph, features", hc, h32, 0.05},
	} {
		if e, r := compare(cmp.got, cmp.want); e > cmp.tol*r || e == 0 {
			t.Errorf("converted vs float32, %s: max abs diff %.3g (max %.3g)", cmp.what, e, r)
		}
	}
	if !nn.HaveBF16() {
		return
	}
	yb, hb := run(ref, true)
	ycb, hcb := run(conv, true)
	for _, cmp := range []struct {
		what      string
		got, want []float32
		tol       float64
	}{
		{"BF16 logits vs float32", ycb, y32, 0.05},
		{"BF16 features vs float32", hcb, h32, 0.05},
		{"BF16 logits vs unconverted BF16", ycb, yb, 0.005},
		{"BF16 features vs unconverted BF16", hcb, hb, 0.005},
	} {
		e, r := compare(cmp.got, cmp.want)
		t.Logf("%s: max abs diff %.3g (max %.3g)", cmp.what, e, r)
		if e > cmp.tol*r {
			t.Errorf("converted, %s: max abs diff %.3g (max %.3g)", cmp.what, e, r)
		}
	}
}
