package survival

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// pycoxFixture is testdata/pycox_losses.json, written by
// testdata/pycox_losses.py from pycox's own loss.py with torch autograd.
type pycoxFixture struct {
	Grid []struct {
		Phi                                      [][]float64 `json:"phi"`
		Idx                                      []int       `json:"idx"`
		Event                                    []float64   `json:"event"`
		LogisticHazard, PMF, DeepHit, DeepHitA05 pycoxValue
	} `json:"grid"`
	Cox []struct {
		LogH  []float64 `json:"log_h"`
		Time  []float64 `json:"time"`
		Event []float64 `json:"event"`
		Value float64   `json:"value"`
		Grad  []float64 `json:"grad"`
	} `json:"cox"`
}

type pycoxValue struct {
	Value float64     `json:"value"`
	Grad  [][]float64 `json:"grad"`
}

func readPycox(t *testing.T) pycoxFixture {
	b, err := os.ReadFile("testdata/pycox_losses.json")
	if err != nil {
		t.Fatal(err)
	}
	var f pycoxFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Grid []map[string]json.RawMessage `json:"grid"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for i, g := range raw.Grid {
		for key, dst := range map[string]*pycoxValue{"logistic_hazard": &f.Grid[i].LogisticHazard,
			"pmf": &f.Grid[i].PMF, "deephit": &f.Grid[i].DeepHit, "deephit_a05_s1": &f.Grid[i].DeepHitA05} {
			if err := json.Unmarshal(g[key], dst); err != nil {
				t.Fatalf("grid %d %s: %v", i, key, err)
			}
		}
	}
	return f
}

// closeTo compares with a relative tolerance (absolute below 1).
func closeTo(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// TestPycoxParity compares the discrete-time losses and their gradients
// with pycox run through torch autograd (float64).
func TestPycoxParity(t *testing.T) {
	f := readPycox(t)
	for ci, c := range f.Grid {
		ev := make([]bool, len(c.Event))
		for i, e := range c.Event {
			ev[i] = e == 1
		}
		for name, run := range map[string]struct {
			want pycoxValue
			fn   func() (float64, [][]float64, error)
		}{
			"logistic_hazard": {c.LogisticHazard, func() (float64, [][]float64, error) { return LogisticHazardLoss(c.Phi, c.Idx, ev) }},
			"pmf":             {c.PMF, func() (float64, [][]float64, error) { return PMFLoss(c.Phi, c.Idx, ev) }},
			"deephit":         {c.DeepHit, func() (float64, [][]float64, error) { return DeepHitLoss(c.Phi, c.Idx, ev, DeepHitOptions{}) }},
			"deephit_a05_s1": {c.DeepHitA05, func() (float64, [][]float64, error) {
				return DeepHitLoss(c.Phi, c.Idx, ev, DeepHitOptions{Alpha: 0.5, Sigma: 1})
			}},
		} {
			v, g, err := run.fn()
			if err != nil {
				t.Fatal(err)
			}
			if !closeTo(v, run.want.Value, 1e-12) {
				t.Errorf("case %d %s: loss %.15g, pycox %.15g", ci, name, v, run.want.Value)
			}
			for i := range g {
				for k := range g[i] {
					if !closeTo(g[i][k], run.want.Grad[i][k], 1e-12) {
						t.Fatalf("case %d %s: grad[%d][%d] %.15g, torch %.15g", ci, name, i, k, g[i][k], run.want.Grad[i][k])
					}
				}
			}
		}
	}
	// pycox's cox_ph_loss has no tie handling and adds 1e-7 inside the log;
	// on tie-free data it is our Breslow (= Efron) loss up to that epsilon.
	for ci, c := range f.Cox {
		y := make([]Outcome, len(c.Time))
		for i := range y {
			y[i] = Outcome{Time: c.Time[i], Event: c.Event[i] == 1}
		}
		v, g, err := CoxLoss(y, c.LogH, Efron)
		if err != nil {
			t.Fatal(err)
		}
		if !closeTo(v, c.Value, 1e-6) {
			t.Errorf("cox case %d: loss %.12g, pycox %.12g", ci, v, c.Value)
		}
		for i := range g {
			if !closeTo(g[i], c.Grad[i], 1e-6) {
				t.Errorf("cox case %d: grad[%d] %.12g, torch %.12g", ci, i, g[i], c.Grad[i])
			}
		}
	}
}
