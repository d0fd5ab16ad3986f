package vit

import (
	"testing"

	"github.com/metasurv/metasurv/internal/cputime"
	"github.com/metasurv/metasurv/nn"
)

// BenchmarkForward times the encoder forward pass of batch 1, 4×96³, eval
// mode, random weights: vitb16 is ViTAutoEnc's defaults (ViT-B/16), lamim
// the LaMIM foundation model; the /bf16 variants set nn.Options.BF16, and
// /bf16-resident also converts the model (nn.ConvertBF16) first.
func BenchmarkForward(b *testing.B) {
	vitb := Config{InChannels: 4, ImgSize: Cube(96), PatchSize: Cube(16)}
	for _, bc := range []struct {
		name string
		cfg  Config
	}{{"vitb16", vitb}, {"lamim", LaMIMEncoder()}} {
		var m *AutoEnc
		for _, v := range []string{"", "/bf16", "/bf16-resident"} {
			bf, resident := v != "", v == "/bf16-resident"
			name := bc.name + v
			b.Run(name, func(b *testing.B) {
				if m == nil {
					var err error
					if m, err = NewAutoEnc(bc.cfg); err != nil {
						b.Fatal(err)
					}
				}
				if resident {
					if !nn.HaveBF16() {
						b.Skip("no bfloat16 products on this CPU")
					}
					if err := nn.ConvertBF16(m); err != nil {
						b.Fatal(err)
					}
				}
				x := nn.NewTensor(1, 4, 96, 96, 96)
				nn.InitNormal(x, 0, 1, nn.NewRNG(2))
				g := nn.NewGraph(nn.Options{Arena: nn.NewArena(), BF16: bf})
				run := func() {
					g.Reset()
					m.Encode(g, x)
					if err := g.Err(); err != nil {
						b.Fatal(err)
					}
				}
				run()
				cpu0 := cputime.Now().Seconds()
				b.ResetTimer()
				for range b.N {
					run()
				}
				c := m.cfg
				_, t := c.grid()
				flops := 2 * float64(t) * float64(c.HiddenSize) * float64(c.InChannels*c.PatchSize[0]*c.PatchSize[1]*c.PatchSize[2])
				flops += float64(c.NumLayers) * 2 * float64(t) * (4*float64(c.HiddenSize*c.HiddenSize) + 2*float64(c.HiddenSize*c.MLPDim) + 2*float64(t*c.HiddenSize))
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				if cpu := cputime.Now().Seconds() - cpu0; cpu > 0 {
					b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
				}
			})
		}
	}
}
