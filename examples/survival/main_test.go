package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
)

// TestLungMatchesR runs the program on R's lung data with the covariates
// of the shared Cox fixture and checks its JSON against R's numbers.
func TestLungMatchesR(t *testing.T) {
	data := fixture.Path(t, "testdata", "survival", "lung.csv")
	b, err := os.ReadFile(fixture.Path(t, "golden", "survival", "survival_expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Cox map[string]struct {
			Coef        map[string]float64 `json:"coef"`
			Loglik      []float64          `json:"loglik"`
			Concordance float64            `json:"concordance"`
		} `json:"cox"`
		Concordance map[string]struct {
			Concordance float64 `json:"concordance"`
		} `json:"concordance"`
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var buf bytes.Buffer
	err = run([]string{"-data", data, "-time", "time", "-event", "status", "-group", "sex",
		"-covariates", "age,sex,ph.ecog", "-marker", "ph.ecog", "-out", out}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Dropped int `json:"dropped"`
		Cox     struct {
			Coefficients []struct {
				Name string  `json:"name"`
				Coef float64 `json:"coef"`
			} `json:"coefficients"`
			Loglik      []float64 `json:"loglik"`
			Concordance float64   `json:"concordance"`
		} `json:"cox"`
		Marker struct {
			Harrell struct {
				C float64 `json:"c"`
			} `json:"harrell"`
		} `json:"marker"`
		Logrank struct {
			DF int `json:"df"`
		} `json:"logrank"`
		Figures []string `json:"figures"`
		N       int      `json:"n"`
		Classes struct {
			Counts       []int `json:"counts"`
			Undetermined int   `json:"undetermined"`
		} `json:"classes"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	close := func(name string, a, b float64) {
		if math.Abs(a-b) > 1e-6*math.Abs(b) {
			t.Errorf("%s: got %.10g, R %.10g", name, a, b)
		}
	}
	r := want.Cox["lung_efron"]
	for _, c := range got.Cox.Coefficients {
		close(c.Name, c.Coef, r.Coef[c.Name])
	}
	close("loglik", got.Cox.Loglik[1], r.Loglik[1])
	close("cox concordance", got.Cox.Concordance, r.Concordance)
	close("ph.ecog Harrell C", got.Marker.Harrell.C, want.Concordance["lung_ecog_harrell"].Concordance)
	if got.Dropped != 1 || got.Logrank.DF != 1 || len(got.Cox.Coefficients) != 3 {
		t.Errorf("dropped %d, log-rank df %d, %d coefficients", got.Dropped, got.Logrank.DF, len(got.Cox.Coefficients))
	}
	total := got.Classes.Undetermined
	for _, c := range got.Classes.Counts {
		total += c
	}
	if total != got.N || len(got.Classes.Counts) != 3 {
		t.Errorf("classes %+v do not add up to n=%d", got.Classes, got.N)
	}
	if len(got.Figures) != 6 {
		t.Errorf("figures %v", got.Figures)
	}
	for _, f := range got.Figures {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 || filepath.Dir(f) != out {
			t.Errorf("figure %s: %v", f, err)
		}
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-data", "x.csv", "-time", "t"},
		{"-data", "/nonexistent.csv", "-time", "t", "-event", "e"},
	} {
		if err := run(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
