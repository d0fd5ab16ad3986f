package fusion

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/metasurv/metasurv/survival"
)

// TestFusedBeatsSingleModality is the proof of the package: on a cohort
// whose survival depends on an image-only and a clinical-only factor, every
// fusion beats both single-modality models on C-index and balanced
// accuracy, deterministically for the seed. It runs through Compare, so it
// also checks the comparison report.
func TestFusedBeatsSingleModality(t *testing.T) {
	c, _ := synthCohort(synthOptions{N: 320, Dim: 16, Seed: 7})
	train, val, test := c.Subset(seq(0, 200)), c.Subset(seq(200, 240)), c.Subset(seq(240, 320))
	enc, err := FitEncoder(synthSchema(), records(train))
	if err != nil {
		t.Fatal(err)
	}
	cand := func(name string, f Fusion, backbone bool) Candidate {
		return Candidate{Name: name, New: func() (*Model, error) {
			cfg := ModelConfig{Fusion: f, ClinicalDim: enc.Dim(), Hidden: 16, Seed: 1, ModalityDropout: 0.1}
			if backbone {
				return NewModel(newTinyNet(4, 8, 1), cfg)
			}
			return NewModel(nil, cfg)
		}}
	}
	cands := []Candidate{cand("clinical-only", ClinicalOnly, false), cand("image-only", ImageOnly, true),
		cand("early", Early, true), cand("late", Late, true), cand("gated", Gated, true)}
	epochs := 0
	cmp, err := Compare(context.Background(), enc, train, val, test, cands, CompareOptions{
		Train:     TrainOptions{Epochs: 30, BatchSize: 16, LR: 3e-3, Seed: 1, Augment: Augment{Flip: true}},
		Bootstrap: survival.BootstrapOptions{Resamples: 200, Seed: 1},
		Progress:  func(string, EpochStats) { epochs++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + cmp.Markdown())
	if epochs != 5*30 || cmp.N != 80 {
		t.Fatalf("progress saw %d epochs, %d test patients", epochs, cmp.N)
	}
	for _, ext := range []string{".png", ".svg"} {
		path := filepath.Join(t.TempDir(), "comparison"+ext)
		if err := cmp.Figure(path); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() < 1000 {
			t.Fatalf("figure %s: %v", ext, err)
		}
	}
	if err := cmp.Figure(filepath.Join(t.TempDir(), "c.gif")); err == nil {
		t.Fatal("unknown figure format accepted")
	}
	res := map[string]Metrics{}
	for _, r := range cmp.Results {
		res[r.Name] = r.Metrics
		if r.CIndex.Estimate != r.Metrics.CIndex || !(r.CIndex.Lower <= r.CIndex.Estimate && r.CIndex.Estimate <= r.CIndex.Upper) {
			t.Errorf("%s: C-index interval %+v around %v", r.Name, r.CIndex, r.Metrics.CIndex)
		}
	}
	for _, f := range []string{"early", "late", "gated"} {
		for _, base := range []string{"clinical-only", "image-only"} {
			if res[f].CIndex <= res[base].CIndex || res[f].BalancedAccuracy <= res[base].BalancedAccuracy {
				t.Errorf("%s fusion (C %.3f, BA %.3f) does not beat %s (C %.3f, BA %.3f)", f, res[f].CIndex, res[f].BalancedAccuracy, base, res[base].CIndex, res[base].BalancedAccuracy)
			}
		}
	}
}

// TestTrainDeterministic: the same seed gives bit-identical predictions,
// whatever the number of loader goroutines; another seed does not.
func TestTrainDeterministic(t *testing.T) {
	c, _ := synthCohort(synthOptions{N: 48, Dim: 12, Seed: 3})
	train, val := c.Subset(seq(0, 40)), c.Subset(seq(40, 48))
	enc, err := FitEncoder(synthSchema(), records(train))
	if err != nil {
		t.Fatal(err)
	}
	run := func(seed uint64, workers int) [][]float64 {
		m, err := NewModel(newTinyNet(4, 4, 9), ModelConfig{Fusion: Gated, ClinicalDim: enc.Dim(), Hidden: 8, Seed: 9, ModalityDropout: 0.2, SequenceDropout: 0.2, Dropout: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		o := TrainOptions{Epochs: 3, BatchSize: 8, Workers: workers, Seed: seed,
			Augment: Augment{Flip: true, RotateDeg: 10, Scale: 0.1, Translate: 1, IntensityScale: 0.1, IntensityShift: 0.1, NoiseStd: 0.05}}
		if _, _, err := Train(context.Background(), m, enc, train, val, o); err != nil {
			t.Fatal(err)
		}
		p, err := PredictCohort(m, enc, val)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b, d := run(5, 1), run(5, 3), run(6, 2)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different worker counts: predictions differ")
	}
	if reflect.DeepEqual(a, d) {
		t.Fatal("another seed gives identical predictions")
	}
}

func seq(lo, hi int) []int {
	s := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		s = append(s, i)
	}
	return s
}

// TestCoxHead: the Cox head, trained on every patient with censoring,
// ranks held-out patients by the planted risk.
func TestCoxHead(t *testing.T) {
	c, _ := synthCohort(synthOptions{N: 240, Dim: 16, Seed: 17})
	train, test := c.Subset(seq(0, 180)), c.Subset(seq(180, 240))
	enc, err := FitEncoder(synthSchema(), records(train))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := NewModel(newTinyNet(4, 8, 1), ModelConfig{Fusion: Early, ClinicalDim: enc.Dim(), Hidden: 16, CoxHead: true, SurvivalLoss: SurvivalCORAL, Seed: 1})
	b, _, err := Train(context.Background(), m, enc, train, nil, TrainOptions{Epochs: 30, BatchSize: 16, LR: 3e-3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := NewPredictor(b, PredictorOptions{})
	var risk []float64
	for _, s := range test.Samples {
		pr, err := p.Predict(context.Background(), Patient{Stack: stackOf(test, s), Clinical: s.Clinical})
		if err != nil {
			t.Fatal(err)
		}
		risk = append(risk, *pr.CoxRisk)
	}
	ci, err := survival.Concordance(test.Outcomes(), risk, survival.ConcordanceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := Evaluate(m, enc, test)
	t.Logf("Cox head C-index %.3f; CORAL ordinal risk C-index %.3f, balanced accuracy %.3f", ci.C, mt.CIndex, mt.BalancedAccuracy)
	if ci.C < 0.75 || mt.CIndex < 0.75 {
		t.Errorf("Cox head C %.3f, CORAL C %.3f (want ≥ 0.75 on the planted signal)", ci.C, mt.CIndex)
	}
}
