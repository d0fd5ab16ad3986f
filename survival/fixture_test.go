package survival

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
)

// loadTable reads one of the shared R data sets.
func loadTable(t *testing.T, name string) *Table {
	t.Helper()
	p := fixture.Path(t, "testdata", "survival", name+".csv")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := ReadCSV(f, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// timeEventCols returns the time and status column names of a data set.
func timeEventCols(name string) (string, string) {
	if name == "ovarian" {
		return "futime", "fustat"
	}
	return "time", "status"
}

// formulaRE parses "Surv(time, status) ~ a + b".
var formulaRE = regexp.MustCompile(`^Surv\((\w+), (\w+)\) ~ (.+)$`)

// loadFormula builds the dataset a fixture formula describes. A term
// I(-v) is the negated column v.
func loadFormula(t *testing.T, data, formula string) (*Dataset, []string) {
	t.Helper()
	m := formulaRE.FindStringSubmatch(formula)
	if m == nil {
		t.Fatalf("cannot parse formula %q", formula)
	}
	var cols []string
	negate := map[string]bool{}
	for _, term := range strings.Split(m[3], " + ") {
		if strings.HasPrefix(term, "I(-") {
			term = strings.TrimSuffix(strings.TrimPrefix(term, "I(-"), ")")
			negate[term] = true
		}
		cols = append(cols, term)
	}
	ds, err := loadTable(t, data).Dataset(DatasetOptions{Time: m[1], Event: m[2], Covariates: cols})
	if err != nil {
		t.Fatal(err)
	}
	for j, c := range cols {
		if negate[c] {
			for _, row := range ds.X {
				row[j] = -row[j]
			}
		}
	}
	return ds, cols
}

func floats(v []float64) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = x
	}
	return out
}

// computeSurvival reproduces every entry of survival_expected.json with
// this package, in the same nested layout.
func computeSurvival(t *testing.T, want map[string]any) map[string]any {
	got := map[string]any{"generator": want["generator"]}
	got["km"] = computeKM(t, want["km"].(map[string]any))
	na := map[string]any{}
	for name := range want["nelson_aalen"].(map[string]any) {
		tc, ec := timeEventCols(name)
		ds, err := loadTable(t, name).Dataset(DatasetOptions{Time: tc, Event: ec})
		if err != nil {
			t.Fatal(err)
		}
		h, err := NelsonAalen(ds.Y, Breslow)
		if err != nil {
			t.Fatal(err)
		}
		na[name] = map[string]any{"time": floats(h.Time), "cumhaz": floats(h.CumHaz), "std_err_cumhaz": floats(h.StdErr)}
	}
	got["nelson_aalen"] = na
	lr := map[string]any{}
	for name := range want["logrank"].(map[string]any) {
		data, col, _ := strings.Cut(name, "_")
		tc, ec := timeEventCols(data)
		ds, err := loadTable(t, data).Dataset(DatasetOptions{Time: tc, Event: ec, Keep: []string{col}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := LogRank(ds.Y, ds.Kept[col], LogRankOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lr[name] = map[string]any{"chisq": r.ChiSq, "df": float64(r.DF), "p": r.P,
			"observed": floats(r.Observed), "expected": floats(r.Expected)}
	}
	got["logrank"] = lr
	got["cox"] = computeCox(t, want["cox"].(map[string]any))
	got["concordance"] = computeConcordance(t, want["concordance"].(map[string]any))
	return got
}

func computeKM(t *testing.T, want map[string]any) map[string]any {
	out := map[string]any{}
	for name, v := range want {
		w := v.(map[string]any)
		data, subset, _ := strings.Cut(name, "_")
		tc, ec := timeEventCols(data)
		opts := DatasetOptions{Time: tc, Event: ec}
		if subset == "maintained" {
			opts.Keep = []string{"x"}
		}
		ds, err := loadTable(t, data).Dataset(opts)
		if err != nil {
			t.Fatal(err)
		}
		y := ds.Y
		if subset == "maintained" {
			y = nil
			for i, g := range ds.Kept["x"] {
				if g == "Maintained" {
					y = append(y, ds.Y[i])
				}
			}
		}
		ct := ConfType(w["conf_type"].(string))
		km, err := KaplanMeier(y, KMOptions{ConfType: ct})
		if err != nil {
			t.Fatal(err)
		}
		out[name] = map[string]any{"conf_type": string(km.ConfType), "time": floats(km.Time),
			"n_risk": floats(km.NRisk), "n_event": floats(km.NEvent), "n_censor": floats(km.NCensor),
			"surv": floats(km.Surv), "std_err": floats(km.StdErr), "lower": floats(km.Lower),
			"upper": floats(km.Upper), "median": km.Median(), "rmean": km.RMean()}
	}
	return out
}

func computeCox(t *testing.T, want map[string]any) map[string]any {
	out := map[string]any{}
	for name, v := range want {
		w := v.(map[string]any)
		data, _, _ := strings.Cut(name, "_")
		ds, _ := loadFormula(t, data, w["formula"].(string))
		ties := Efron
		if w["ties"] == "breslow" {
			ties = Breslow
		}
		fit, err := Cox(ds.Y, ds.X, ds.Names, CoxOptions{Ties: ties})
		if err != nil {
			t.Fatal(err)
		}
		coef, se := map[string]any{}, map[string]any{}
		for j, n := range fit.Names {
			coef[n], se[n] = fit.Coef[j], fit.SE[j]
		}
		lp := make([]any, 5)
		for i := range lp {
			lp[i] = fit.LinearPredictor(ds.X[i])
		}
		bh := fit.BaseHaz(false)[0]
		out[name] = map[string]any{"formula": w["formula"], "ties": ties.String(), "coef": coef, "se": se,
			"loglik": floats(fit.LogLik[:]), "concordance": fit.Concordance, "n": float64(fit.N),
			"nevent": float64(fit.NEvent), "lr_test": fit.LRTest, "score_test": fit.ScoreTest,
			"wald_test": fit.WaldTest, "linear_predictor_first5": lp,
			"baseline_cumhaz": map[string]any{"time": floats(bh.Time), "hazard": floats(bh.Hazard)}}
	}
	return out
}

func computeConcordance(t *testing.T, want map[string]any) map[string]any {
	out := map[string]any{}
	for name, v := range want {
		w := v.(map[string]any)
		data, _, _ := strings.Cut(name, "_")
		ds, _ := loadFormula(t, data, w["formula"].(string))
		risk := make([]float64, len(ds.X))
		for i, row := range ds.X {
			risk[i] = row[0]
		}
		o := ConcordanceOptions{}
		if w["timewt"] == "n/G2" {
			o.TimeWeight = Uno
		}
		if ymax, ok := w["ymax"].(float64); ok {
			o.Tau = ymax
		}
		c, err := Concordance(ds.Y, risk, o)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = map[string]any{"formula": w["formula"], "timewt": w["timewt"], "ymax": w["ymax"],
			"concordance": c.C, "count": map[string]any{"concordant": c.Concordant, "discordant": c.Discordant,
				"tied.x": c.TiedRisk, "tied.y": c.TiedTime, "tied.xy": c.TiedBoth}}
	}
	return out
}

// maxRelErr records the largest relative error seen by compareTree.
var maxRelErr float64

// compareTree walks want and checks that got holds every number to within
// rel (relative, absolute near zero) and every string exactly. It returns
// the number of numbers compared.
func compareTree(t *testing.T, path string, want, got any, rel float64) int {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: want an object, got %T", path, got)
			return 0
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		n := 0
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s/%s: not computed", path, k)
				continue
			}
			n += compareTree(t, path+"/"+k, w[k], gv, rel)
		}
		return n
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: want a list of %d, got %T of len %d", path, len(w), got, lenOf(got))
			return 0
		}
		n := 0
		for i := range w {
			n += compareTree(t, fmt.Sprintf("%s[%d]", path, i), w[i], g[i], rel)
		}
		return n
	case float64:
		g, ok := got.(float64)
		if !ok {
			t.Errorf("%s: want %v, got %T %v", path, w, got, got)
			return 0
		}
		d := math.Abs(g - w)
		if w != 0 {
			maxRelErr = math.Max(maxRelErr, d/math.Abs(w))
		}
		if d > rel*math.Abs(w) && !(w == 0 && d < 1e-12) || math.IsNaN(g) {
			t.Errorf("%s: got %.15g want %.15g (rel err %.3g)", path, g, w, d/math.Abs(w))
		}
		return 1
	case nil:
		if got != nil {
			t.Errorf("%s: want null, got %v", path, got)
		}
		return 0
	default:
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Errorf("%s: got %v want %v", path, got, want)
		}
		return 0
	}
}

func lenOf(v any) int {
	if l, ok := v.([]any); ok {
		return len(l)
	}
	return -1
}

func readJSON(t *testing.T, elem ...string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(fixture.Path(t, elem...))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", filepath.Join(elem...), err)
	}
	return m
}

// TestRSurvivalParity checks every number of R survival 3.5-3's results on
// the shared data sets: Kaplan–Meier, Nelson–Aalen, log-rank, Cox (Efron
// and Breslow) and Harrell/Uno concordance.
func TestRSurvivalParity(t *testing.T) {
	want := readJSON(t, "golden", "survival", "survival_expected.json")
	got := computeSurvival(t, want)
	maxRelErr = 0
	n := compareTree(t, "", want, got, 1e-6)
	t.Logf("compared %d numbers with R, max relative error %.3g", n, maxRelErr)
	if n < 3000 {
		t.Errorf("only %d numbers compared: the walk is skipping entries", n)
	}
}
