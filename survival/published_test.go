package survival

import (
	"math"
	"os"
	"testing"
)

// TestRossiPublished checks the Cox (Efron) fit of the Rossi recidivism
// data (Fox & Weisberg, "Cox proportional-hazards regression for survival
// data in R", 2019 appendix; lifelines' documentation) to the published
// coefficients.
func TestRossiPublished(t *testing.T) {
	f, err := os.Open("testdata/rossi.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := ReadCSV(f, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := tab.Dataset(DatasetOptions{Time: "week", Event: "arrest",
		Covariates: []string{"fin", "age", "race", "wexp", "mar", "paro", "prio"}})
	if err != nil {
		t.Fatal(err)
	}
	fit, err := Cox(ds.Y, ds.X, ds.Names, CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"fin": -0.3794222, "age": -0.0574377, "prio": 0.0914971}
	for j, name := range fit.Names {
		if w, ok := want[name]; ok && math.Abs(fit.Coef[j]-w) > 5e-7 {
			t.Errorf("%s: got %.7f want %.7f", name, fit.Coef[j], w)
		}
	}
	if !fit.Converged {
		t.Error("not converged")
	}
}

// TestLungCoxConcordanceSE: summary(coxph(Surv(time, status) ~ age + sex +
// ph.ecog, lung)) prints "Concordance= 0.637 (se = 0.025)".
func TestLungCoxConcordanceSE(t *testing.T) {
	ds, _ := loadFormula(t, "lung", "Surv(time, status) ~ age + sex + ph.ecog")
	fit, err := Cox(ds.Y, ds.X, ds.Names, CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lp := make([]float64, len(ds.X))
	for i, x := range ds.X {
		lp[i] = fit.LinearPredictor(x)
	}
	c, err := Concordance(ds.Y, lp, ConcordanceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Round(c.C*1000) != 637 || math.Round(c.SE*1000) != 25 {
		t.Errorf("C %.4f (se %.4f), R prints 0.637 (se = 0.025)", c.C, c.SE)
	}
}

// TestSksurvConcordanceVector is scikit-survival's concordance test case.
func TestSksurvConcordanceVector(t *testing.T) {
	times := []float64{1, 5, 6, 11, 34, 45, 46, 50}
	risk := []float64{5, 8, 11, 34, 12, 3, 9, 12}
	event := []bool{false, true, true, false, false, true, false, false}
	y, err := NewOutcomes(times, event)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Concordance(y, risk, ConcordanceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.C-0.2307692) > 5e-8 {
		t.Errorf("C = %.7f want 0.2307692", c.C)
	}
	if c.Concordant != 3 || c.Discordant != 10 || c.TiedRisk != 0 {
		t.Errorf("counts %+v want 3 concordant, 10 discordant", c)
	}
}

// TestLungMedianBySex checks R's widely quoted print(survfit(Surv(time,
// status) ~ sex, data = lung)): medians 270 (212, 310) and 426 (348, 550),
// and 310 (285, 363) for the whole cohort.
func TestLungMedianBySex(t *testing.T) {
	ds, err := loadTable(t, "lung").Dataset(DatasetOptions{Time: "time", Event: "status", Keep: []string{"sex"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][4]float64{"1": {138, 270, 212, 310}, "2": {90, 426, 348, 550}, "": {228, 310, 285, 363}}
	for sex, w := range want {
		var y []Outcome
		for i, s := range ds.Kept["sex"] {
			if s == sex || sex == "" {
				y = append(y, ds.Y[i])
			}
		}
		km, err := KaplanMeier(y, KMOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := km.QuantileCI(0.5)
		if got := [4]float64{float64(len(y)), km.Median(), lo, hi}; got != w {
			t.Errorf("sex %s: n, median, CI = %v want %v", sex, got, w)
		}
	}
}
