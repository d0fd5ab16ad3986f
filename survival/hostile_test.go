package survival

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

// TestHostileInputsReturnErrors feeds entry points inputs that used to
// hang (NaN scores), exhaust memory (huge class or cut counts) or panic
// (nil metric, negative sizes), and NaN options that used to pass
// silently, and checks that each returns an error.
func TestHostileInputsReturnErrors(t *testing.T) {
	nan := math.NaN()
	y := []Outcome{{1, true}, {2, false}, {3, true}, {4, true}}
	one := func([]int) (float64, error) { return 1, nil }
	for name, fn := range map[string]func() error{
		"BinaryAUC NaN score":    func() error { _, e := BinaryAUC([]bool{true, false}, []float64{1, nan}); return e },
		"ConfusionMatrix huge k": func() error { _, e := ConfusionMatrix([]int{0, 1}, []int{0, 1}, 1<<40); return e },
		"ConfusionMatrix k<1":    func() error { _, e := ConfusionMatrix([]int{0, 1}, []int{0, 1}, -2); return e },
		"Bootstrap nil metric":   func() error { _, e := Bootstrap(context.Background(), 3, nil, BootstrapOptions{}); return e },
		"Bootstrap negative n":   func() error { _, e := Bootstrap(context.Background(), -3, one, BootstrapOptions{}); return e },
		"Bootstrap huge B": func() error {
			_, e := Bootstrap(context.Background(), 3, one, BootstrapOptions{Resamples: 1 << 40})
			return e
		},
		"EquidistantCuts huge m":   func() error { _, e := EquidistantCuts(y, 1<<40); return e },
		"EquidistantCuts negative": func() error { _, e := EquidistantCuts([]Outcome{{-1, true}, {2, true}}, 3); return e },
		"EquidistantCuts all zero": func() error { _, e := EquidistantCuts([]Outcome{{0, true}, {0, false}}, 3); return e },
		"RepeatedKFold huge repeats": func() error {
			_, e := RepeatedKFold([]int{0, 1}, 5, 1<<40, 1)
			return e
		},
		"CumulativeDynamicAUC NaN risk": func() error {
			_, e := CumulativeDynamicAUC(y, y, []float64{1, nan, 2, 3}, []float64{2}, IPCWOptions{})
			return e
		},
		"CumulativeDynamicAUCVarying NaN risk": func() error {
			_, e := CumulativeDynamicAUCVarying(y, y, [][]float64{{1}, {nan}, {2}, {3}}, []float64{2}, IPCWOptions{})
			return e
		},
		"Calibration NaN horizon": func() error { _, e := Calibration(y, []float64{.1, .2, .3, .4}, nan, 2); return e },
		"DeepHit NaN alpha": func() error {
			_, _, e := DeepHitLoss([][]float64{{1, 2}, {1, 2}}, []int{0, 1}, []bool{true, false}, DeepHitOptions{Alpha: nan})
			return e
		},
		"LogRank NaN rho": func() error {
			_, e := LogRank(y, []string{"a", "b", "a", "b"}, LogRankOptions{Rho: nan})
			return e
		},
		"Concordance NaN tau": func() error {
			_, e := Concordance(y, []float64{1, 2, 3, 4}, ConcordanceOptions{TimeWeight: Uno, Tau: nan})
			return e
		},
		"Concordance negative tau": func() error {
			_, e := Concordance(y, []float64{1, 2, 3, 4}, ConcordanceOptions{Tau: -1})
			return e
		},
		"PoolRubin NaN estimate":      func() error { _, e := PoolRubin([]float64{1, nan}, []float64{1, 1}); return e },
		"PoolRubin negative variance": func() error { _, e := PoolRubin([]float64{1, 2}, []float64{-1, 1}); return e },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			if err := fn(); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestCoxRejectsUnfittableInput checks that all-censored data and
// nonsensical iteration options are errors that say so.
func TestCoxRejectsUnfittableInput(t *testing.T) {
	x := [][]float64{{1}, {0}, {1}, {0}}
	censored := []Outcome{{1, false}, {2, false}, {3, false}, {4, false}}
	if _, err := Cox(censored, x, nil, CoxOptions{}); err == nil || !strings.Contains(err.Error(), "at least one event") {
		t.Errorf("all censored: error %v, want one about events", err)
	}
	y := []Outcome{{1, true}, {2, false}, {3, true}, {4, true}}
	for _, o := range []CoxOptions{{MaxIter: -1}, {Eps: math.NaN()}, {Eps: -1}, {Eps: math.Inf(1)}} {
		if _, err := Cox(y, x, nil, o); err == nil {
			t.Errorf("Cox with %+v: no error", o)
		}
	}
}

// Issue 12: Concordance of one patient, or of patients who are all
// censored, returned NaN with a nil error. It is an error a caller can
// test for; a Cox fit whose pairs are not comparable reports NaN (R's NA).
func TestConcordanceUndefined(t *testing.T) {
	one, _ := NewOutcomes([]float64{5}, []bool{true})
	if _, err := Concordance(one, []float64{1}, ConcordanceOptions{}); !errors.Is(err, ErrNoEvents) {
		t.Fatalf("one sample: %v", err)
	}
	cens, _ := NewOutcomes([]float64{1, 2, 3}, []bool{false, false, false})
	for _, o := range []ConcordanceOptions{{}, {TimeWeight: Uno}, {Tau: 2}} {
		if r, err := Concordance(cens, []float64{3, 2, 1}, o); !errors.Is(err, ErrNoEvents) {
			t.Fatalf("all censored %+v: %v, %+v", o, err, r)
		}
	}
	// The only event is the last time: it has no later patient to compare.
	last, _ := NewOutcomes([]float64{1, 2, 3}, []bool{false, false, true})
	if _, err := Concordance(last, []float64{1, 2, 3}, ConcordanceOptions{}); !errors.Is(err, ErrNoEvents) {
		t.Fatalf("no comparable pair: %v", err)
	}
	// Two deaths at the same time, nobody else: the fit exists, no pair is
	// comparable (tied on time).
	tied, _ := NewOutcomes([]float64{3, 3}, []bool{true, true})
	fit, err := Cox(tied, [][]float64{{0.1}, {0.5}}, []string{"x"}, CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(fit.Concordance) {
		t.Fatalf("Cox concordance %v without comparable pairs, want NaN", fit.Concordance)
	}
}
