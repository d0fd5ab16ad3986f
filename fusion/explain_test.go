package fusion

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/nn"
)

// plainBackbone hides tinyNet's FeatureMapper, forcing gradient saliency.
type plainBackbone struct{ nn.Backbone }

// TestSaliencyOnLesion trains an image-only model on the planted lesion
// cohort and checks that both saliency methods concentrate on the lesion.
func TestSaliencyOnLesion(t *testing.T) {
	const dim = 16
	c, centres := synthCohort(synthOptions{N: 160, Dim: dim, Seed: 21})
	train := c.Subset(seq(0, 140))
	enc, err := FitEncoder(synthSchema(), records(train))
	if err != nil {
		t.Fatal(err)
	}
	net := newTinyNet(4, 8, 4)
	m, err := NewModel(net, ModelConfig{Fusion: ImageOnly, Hidden: 16, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Train(context.Background(), m, enc, train, nil, TrainOptions{Epochs: 12, BatchSize: 16, LR: 3e-3, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"grad-cam", "gradient"} {
		bb := *b
		if method == "gradient" {
			mm := *b.Model
			mm.Backbone = plainBackbone{net}
			bb.Model = &mm
		}
		p, err := NewPredictor(&bb, PredictorOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var ratios []float64
		for i := 140; i < 160; i++ {
			s := c.Samples[i]
			ex, err := p.Explain(context.Background(), Patient{ID: s.ID, Stack: stackOf(c, s)})
			if err != nil {
				t.Fatal(err)
			}
			if ex.Method != method {
				t.Fatalf("method %q, want %q", ex.Method, method)
			}
			// The lesion is planted in T1c (and FLAIR): hiding T1c must
			// move the risk more than hiding T1 or T2.
			seq := map[string]float64{}
			for _, c := range ex.Contributions {
				seq[c.Input] = math.Abs(c.Delta)
			}
			if len(seq) != 4 || seq["sequence:T1c"] <= seq["sequence:T1"] || seq["sequence:T1c"] <= seq["sequence:T2"] {
				t.Fatalf("sequence contributions %v", seq)
			}
			ctr := centres[i]
			var in, out float64
			var nin, nout int
			v := ex.Saliency
			for x := 0; x < dim; x++ {
				for y := 0; y < dim; y++ {
					for z := 0; z < dim; z++ {
						dx, dy, dz := float64(x-ctr[0]), float64(y-ctr[1]), float64(z-ctr[2])
						s := float64(v.At(x, y, z))
						if math.Sqrt(dx*dx+dy*dy+dz*dz) <= 4.5 {
							in += s
							nin++
						} else {
							out += s
							nout++
						}
					}
				}
			}
			ratios = append(ratios, (in/float64(nin))/(out/float64(nout)+1e-9))
		}
		med := median(ratios)
		t.Logf("%s: median saliency inside/outside the lesion %.2f", method, med)
		if med < 2 {
			t.Errorf("%s saliency does not concentrate on the lesion: inside/outside ratio %.2f (want ≥ 2)", method, med)
		}
		if method == "grad-cam" {
			s := c.Samples[150]
			ex, _ := p.Explain(context.Background(), Patient{Stack: stackOf(c, s)})
			path := filepath.Join(t.TempDir(), "sal.nii.gz")
			if err := ex.SaveSaliency(path); err != nil {
				t.Fatal(err)
			}
			back, err := nifti.Load(path, nil)
			if err != nil || back.Dims != ex.Saliency.Dims || back.At(3, 4, 5) != ex.Saliency.At(3, 4, 5) {
				t.Fatalf("NIfTI round trip: %v", err)
			}
		}
	}
}

func median(x []float64) float64 {
	s := append([]float64(nil), x...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

// TestClinicalContributions: KPS carries the planted clinical signal, so
// it must dominate the clinical occlusion contributions of a clinical-only
// model, with the sign of the planted effect (low KPS, higher risk).
func TestClinicalContributions(t *testing.T) {
	c, _ := synthCohort(synthOptions{N: 200, Dim: 10, Seed: 5})
	enc, err := FitEncoder(synthSchema(), records(c))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := NewModel(nil, ModelConfig{Fusion: ClinicalOnly, ClinicalDim: enc.Dim(), Hidden: 16, Seed: 1})
	b, _, err := Train(context.Background(), m, enc, c, nil, TrainOptions{Epochs: 20, BatchSize: 16, LR: 3e-3})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := NewPredictor(b, PredictorOptions{})
	top := map[string]int{}
	for _, kps := range []string{"40", "100"} {
		ex, err := p.Explain(context.Background(), Patient{Clinical: Record{"age": "60", "kps": kps, "histology": "lung", "extracranial": "no"}})
		if err != nil {
			t.Fatal(err)
		}
		top[ex.Contributions[0].Input]++
		d := ex.Contributions[0].Delta
		if ex.Contributions[0].Input == "kps" && ((kps == "40") != (d > 0)) {
			t.Errorf("KPS %s contributes %+.3f to the risk (want %s)", kps, d, map[bool]string{true: "positive", false: "negative"}[kps == "40"])
		}
		if ex.Saliency != nil {
			t.Error("clinical-only explanation has a saliency map")
		}
	}
	if top["kps"] != 2 {
		t.Errorf("KPS is not the top contribution: %v", top)
	}
}
