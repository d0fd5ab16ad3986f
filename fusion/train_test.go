package fusion

import (
	"context"
	"reflect"
	"testing"
	"time"
)

type trial struct {
	name     string
	fusion   Fusion
	backbone bool
}

func trainTrial(t *testing.T, tr trial, train, val, test *Cohort, enc *Encoder, seed uint64, o TrainOptions) Metrics {
	t.Helper()
	var bb *tinyNet
	if tr.backbone {
		bb = newTinyNet(4, 8, seed)
	}
	cfg := ModelConfig{Fusion: tr.fusion, ClinicalDim: enc.Dim(), Hidden: 16, Seed: seed, ModalityDropout: 0.1}
	var m *Model
	var err error
	if bb != nil {
		m, err = NewModel(bb, cfg)
	} else {
		m, err = NewModel(nil, cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	o.Seed = seed
	t0 := time.Now()
	_, h, err := Train(context.Background(), m, enc, train, val, o)
	if err != nil {
		t.Fatal(err)
	}
	mt, err := Evaluate(m, enc, test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%-14s best epoch %2d  test C %.3f  BA %.3f  F1 %.3f  AUC %.3f  (%.1fs)", tr.name, h.BestEpoch, mt.CIndex, mt.BalancedAccuracy, mt.MacroF1, mt.AUC, time.Since(t0).Seconds())
	return mt
}

func TestFusedBeatsSingleModality(t *testing.T) {
	c, _ := synthCohort(synthOptions{N: 320, Dim: 16, Seed: 7})
	train, val, test := c.Subset(seq(0, 200)), c.Subset(seq(200, 240)), c.Subset(seq(240, 320))
	enc, err := FitEncoder(synthSchema(), records(train))
	if err != nil {
		t.Fatal(err)
	}
	o := TrainOptions{Epochs: 30, BatchSize: 16, LR: 3e-3, Augment: Augment{Flip: true}}
	res := map[string]Metrics{}
	for _, tr := range []trial{{"clinical-only", ClinicalOnly, false}, {"image-only", ImageOnly, true}, {"early", Early, true}, {"late", Late, true}, {"gated", Gated, true}} {
		res[tr.name] = trainTrial(t, tr, train, val, test, enc, 1, o)
	}
	for _, f := range []string{"early", "late"} {
		for _, base := range []string{"clinical-only", "image-only"} {
			if res[f].CIndex <= res[base].CIndex || res[f].BalancedAccuracy <= res[base].BalancedAccuracy {
				t.Errorf("%s fusion (C %.3f, BA %.3f) does not beat %s (C %.3f, BA %.3f)", f, res[f].CIndex, res[f].BalancedAccuracy, base, res[base].CIndex, res[base].BalancedAccuracy)
			}
		}
	}
	if g := res["gated"]; g.CIndex <= res["image-only"].CIndex || g.CIndex <= res["clinical-only"].CIndex {
		t.Errorf("gated fusion C %.3f does not beat the single modalities", g.CIndex)
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
