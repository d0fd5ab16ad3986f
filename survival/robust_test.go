package survival

import (
	"errors"
	"math"
	"testing"
)

// Values that used to be taken silently: an unknown enum read as the
// default, NaN times answered as if before the first event, a class for a
// NaN time, covariates of the wrong length or not finite, labels of another
// cohort, a probability outside [0, 1].
func TestRobustSilentInputs(t *testing.T) {
	nan := math.NaN()
	y := []Outcome{{1, true}, {2, false}, {3, true}, {4, true}}
	x := [][]float64{{1}, {0}, {0}, {1}}
	for name, fn := range map[string]func() error{
		"Cox unknown ties":         func() error { _, e := Cox(y, x, nil, CoxOptions{Ties: Ties(7)}); return e },
		"NelsonAalen unknown ties": func() error { _, e := NelsonAalen(y, Ties(7)); return e },
		"CoxLoss unknown ties":     func() error { _, _, e := CoxLoss(y, []float64{1, 2, 3, 4}, Ties(7)); return e },
		"CumulativeDynamicAUC unknown convention": func() error {
			_, e := CumulativeDynamicAUC(y, y, []float64{1, 2, 3, 4}, []float64{2}, IPCWOptions{Convention: IPCWConvention(7)})
			return e
		},
		"Concordance unknown convention": func() error {
			_, e := Concordance(y, []float64{1, 2, 3, 4}, ConcordanceOptions{TimeWeight: Uno, Convention: IPCWConvention(7)})
			return e
		},
		"Transform NaN time": func() error {
			d, err := EquidistantCuts(y, 3)
			if err != nil {
				return nil
			}
			_, _, e := d.Transform([]Outcome{{nan, true}})
			return e
		},
		"Balance of another cohort": func() error {
			l, err := StudyClasses().Label(y, Months)
			if err != nil {
				return nil
			}
			_, e := l.Balance(y[:2], Months)
			return e
		},
	} {
		t.Run(name, func(t *testing.T) {
			if err := fn(); !errors.Is(err, ErrInput) && !errors.Is(err, ErrShape) {
				t.Fatalf("%v, want ErrInput or ErrShape", err)
			}
		})
	}

	fit, err := Cox(y, x, nil, CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range [][]float64{nil, {1, 2}} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("LinearPredictor(%v) panics: %v", row, r)
				}
			}()
			if v := fit.LinearPredictor(row); !math.IsNaN(v) {
				t.Errorf("LinearPredictor(%v) = %v, want NaN", row, v)
			}
		}()
	}
	if _, err := fit.PredictSurvival([][]float64{{nan}}, nil, []float64{1}); !errors.Is(err, ErrInput) {
		t.Errorf("PredictSurvival of a NaN covariate: %v", err)
	}
	if _, err := fit.SurvivalAt([]float64{math.Inf(1)}, "", 1); !errors.Is(err, ErrInput) {
		t.Errorf("SurvivalAt of an infinite covariate: %v", err)
	}
	if _, err := fit.SurvivalAt([]float64{1}, "", nan); !errors.Is(err, ErrInput) {
		t.Errorf("SurvivalAt time NaN: %v", err)
	}

	km, err := KaplanMeier(y, KMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	na, err := NelsonAalen(y, Efron)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]float64{
		"KM.At":        km.At(nan),
		"KM.AtLeft":    km.AtLeft(nan),
		"CumHaz.At":    na.At(nan),
		"ECDF.At":      NewECDF([]float64{1, 2}).At(nan),
		"Quantile(-1)": km.Quantile(-1),
		"Quantile NaN": km.Quantile(nan),
	} {
		if !math.IsNaN(v) {
			t.Errorf("%s = %v, want NaN", name, v)
		}
	}
	if lo, hi := km.QuantileCI(-2); !math.IsNaN(lo) || !math.IsNaN(hi) {
		t.Errorf("QuantileCI(-2) = %v, %v, want NaN", lo, hi)
	}
	for _, v := range []float64{nan, -1, math.Inf(-1)} {
		if c := StudyClasses().ClassOf(v); c != -1 {
			t.Errorf("ClassOf(%v) = %d, want -1", v, c)
		}
	}
}
