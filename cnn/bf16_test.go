package cnn_test

import (
	"math"
	"testing"

	"github.com/metasurv/metasurv/cnn"
	"github.com/metasurv/metasurv/nn"
)

// Under Options.BF16 every family's forward (its convolutions on
// bfloat16 products, on VDPBF16PS or AMX tiles, or the emulated tiles under
// METASURV_EMULATE_AMX=1) stays within bfloat16's precision of the float32
// logits and embedding: bfloat16 keeps 8 significant bits, so after a
// network of rounded products the outputs differ by a few per cent of
// their scale, while a wrong layout or tile would change them entirely.
func TestForwardBF16CloseToFloat32(t *testing.T) {
	if !nn.HaveBF16() {
		t.Skip("no bfloat16 products on this CPU")
	}
	x := nn.NewTensor(2, 4, 32, 32, 32)
	nn.InitNormal(x, 0, 1, nn.NewRNG(5))
	for _, name := range []string{"resnet18", "resnet50", "densenet121", "seresnext50"} {
		t.Run(name, func(t *testing.T) {
			m, err := cnn.New(name, cnn.Config{InChannels: 4, Classes: 3, Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			nn.SetTraining(m, false)
			out := func(bf bool) (logits, emb []float32) {
				g := nn.NewGraph(nn.Options{BF16: bf})
				l, e := m.Forward(g, x), m.Embed(g, x)
				if err := g.Err(); err != nil {
					t.Fatal(err)
				}
				return l.Data, e.Data
			}
			l32, e32 := out(false)
			l16, e16 := out(true)
			for _, c := range []struct {
				what      string
				got, want []float32
			}{{"logits", l16, l32}, {"embedding", e16, e32}} {
				var scale, worst float64
				for i, w := range c.want {
					scale = max(scale, math.Abs(float64(w)))
					worst = max(worst, math.Abs(float64(c.got[i]-w)))
				}
				if !(worst <= 0.05*scale) || scale == 0 {
					t.Errorf("%s: bfloat16 differs by %.3g, scale %.3g (want ≤ 5 %%)", c.what, worst, scale)
				}
				t.Logf("%s: max difference %.3g of scale %.3g", c.what, worst, scale)
			}
		})
	}
}
