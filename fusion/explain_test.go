package fusion

import (
	"context"
	"math"
	"path/filepath"
	"slices"
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

// TestExplainExplainsRank: for a model with a Cox head, Prediction.Rank is
// the Cox risk and the risk RiskCohort ranks the cohort by, every
// occlusion contribution is the drop of that risk (checked against
// separate predictions with the input left out), and the gradient
// saliency follows the Cox risk: its ratio between two voxels matches
// finite differences of Rank.
func TestExplainExplainsRank(t *testing.T) {
	b, test := trainedBundle(t)
	ctx := context.Background()
	p, err := NewPredictor(b, PredictorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cohortRisk, err := RiskCohort(b.Model, b.Encoder, test)
	if err != nil {
		t.Fatal(err)
	}
	rank := func(pt Patient) float64 {
		t.Helper()
		pr, err := p.Predict(ctx, pt)
		if err != nil {
			t.Fatal(err)
		}
		return pr.Rank()
	}
	for i, s := range test.Samples[:4] {
		pt := Patient{ID: s.ID, Stack: stackOf(test, s), Clinical: s.Clinical}
		ex, err := p.Explain(ctx, pt)
		if err != nil {
			t.Fatal(err)
		}
		if ex.CoxRisk == nil || ex.Rank() != *ex.CoxRisk {
			t.Fatalf("Rank %v, CoxRisk %v: a Cox-head model must rank by its Cox risk", ex.Rank(), ex.CoxRisk)
		}
		if math.Abs(ex.Rank()-cohortRisk[i]) > 1e-5 {
			t.Errorf("patient %s: Rank %.6f, RiskCohort %.6f", s.ID, ex.Rank(), cohortRisk[i])
		}
		want := map[string]float64{
			"imaging":  ex.Rank() - rank(Patient{ID: s.ID, Clinical: s.Clinical}),
			"clinical": ex.Rank() - rank(Patient{ID: s.ID, Stack: pt.Stack}),
		}
		for col := range s.Clinical {
			rec := Record{}
			for k, v := range s.Clinical {
				if k != col {
					rec[k] = v
				}
			}
			want[col] = ex.Rank() - rank(Patient{ID: s.ID, Stack: pt.Stack, Clinical: rec})
		}
		seen := 0
		for _, c := range ex.Contributions {
			w, ok := want[c.Input]
			if !ok {
				continue
			}
			seen++
			if math.Abs(c.Delta-w) > 1e-5 {
				t.Errorf("patient %s: contribution of %s %.6f, Cox risk drop when left out %.6f", s.ID, c.Input, c.Delta, w)
			}
		}
		if seen != len(want) {
			t.Errorf("patient %s: %d of %d contributions found in %+v", s.ID, seen, len(want), ex.Contributions)
		}
	}

	// Gradient saliency (the FeatureMapper hidden) against finite
	// differences of the Cox risk, summed in magnitude over sequences.
	bb := *b
	mm := *b.Model
	mm.Backbone = plainBackbone{b.Model.Backbone}
	bb.Model = &mm
	pg, err := NewPredictor(&bb, PredictorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := test.Samples[0]
	st := stackOf(test, s)
	ex, err := pg.Explain(ctx, Patient{ID: s.ID, Stack: st, Clinical: s.Clinical})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Method != "gradient" {
		t.Fatalf("method %q", ex.Method)
	}
	sal := ex.Saliency
	// the hottest voxel and one at about half its saliency
	best, second := 0, 0
	for i, v := range sal.Data {
		if v > sal.Data[best] {
			best = i
		}
		if math.Abs(float64(v)-0.5) < math.Abs(float64(sal.Data[second])-0.5) {
			second = i
		}
	}
	fd := func(vi int) float64 {
		const eps = 5e-2
		// the saliency volume is i-fastest, the stack W (k) fastest
		nx, ny, nz := st.Dims[0], st.Dims[1], st.Dims[2]
		i, j, k := vi%nx, vi/nx%ny, vi/(nx*ny)
		n := nx * ny * nz
		tot := 0.0
		for c := range st.Names {
			if !st.Present[c] {
				continue
			}
			up, dn := *st, *st
			up.Data, dn.Data = slices.Clone(st.Data), slices.Clone(st.Data)
			ti := c*n + (i*ny+j)*nz + k
			up.Data[ti] += eps
			dn.Data[ti] -= eps
			r1 := pgRank(t, pg, Patient{ID: s.ID, Stack: &up, Clinical: s.Clinical})
			r0 := pgRank(t, pg, Patient{ID: s.ID, Stack: &dn, Clinical: s.Clinical})
			tot += math.Abs(r1-r0) / (2 * eps)
		}
		return tot
	}
	got := float64(sal.Data[second]) / float64(sal.Data[best])
	fa, fb := fd(best), fd(second)
	if fa == 0 || math.Abs(fb/fa-got) > 0.05 {
		t.Errorf("saliency ratio of two voxels %.4f, finite differences of the Cox risk %.4f (%g / %g)", got, fb/fa, fb, fa)
	}
}

func pgRank(t *testing.T, p *Predictor, pt Patient) float64 {
	t.Helper()
	pr, err := p.Predict(context.Background(), pt)
	if err != nil {
		t.Fatal(err)
	}
	return pr.Rank()
}
