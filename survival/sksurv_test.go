package survival

import (
	"math"
	"os"
	"sort"
	"testing"
)

// scikit-survival's test_uno_auc cases (tests/test_metrics.py): published
// cumulative/dynamic AUCs and their mean, reproduced with scikit-survival's
// IPCW convention (GRight).
func TestSksurvCumulativeDynamicAUC(t *testing.T) {
	mk := func(time []float64, event []int) []Outcome {
		y := make([]Outcome, len(time))
		for i := range y {
			y[i] = Outcome{Time: time[i], Event: event[i] == 1}
		}
		return y
	}
	yTest := func() []Outcome {
		return mk([]float64{10.88, 19.78, 40.92, 98.7, 70.19, 10.15, 28.95, 29.57, 17.9, 63.78, 36.22, 83.14, 13.69, 99.51, 3.19},
			[]int{1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 1})
	}
	yTrain20 := mk([]float64{77.6, 57.6, 66.6, 67.0, 31.5, 5.5, 67.4, 43.7, 31.7, 71.9, 81.1, 56.2, 88.1, 2.9, 62.0, 17.2, 88.0, 26.4, 93.5, 79.9},
		[]int{1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1})
	est := func() []float64 {
		return []float64{-1.019, -0.016, 0.132, 0.269, -0.777, -1.077, 0.894, -1.227, -0.417, 0.072, -1.275, -0.91, -0.825, -0.292, -0.045}
	}
	order := func(e []float64) []int {
		o := allRows(len(e))
		sort.SliceStable(o, func(a, b int) bool { return e[o[a]] < e[o[b]] })
		return o
	}
	type tc struct {
		name        string
		train, test []Outcome
		risk        []float64
		times       []float64
		auc         []float64
		mean        float64
	}
	y15 := yTest()
	cases := []tc{
		{"single_time", y15, y15, est(), []float64{28}, []float64{0.362963}, 0.362963},
		{"two_times", y15, y15, est(), []float64{15, 66}, []float64{0.3030303, 0.4500000}, 0.3943949},
		{"min_to_max", y15, y15, est(), []float64{3.19, 15, 66, 99.51 - 1e-6}, []float64{0.6428571, 0.3030303, 0.4500000, 0.3162996}, 0.3999539},
		{"train_test", yTrain20, y15, est(), []float64{15, 66}, []float64{0.3030303, 0.4357061}, 0.385509},
	}
	tied := yTest()
	tied[0].Time = tied[1].Time
	cases = append(cases, tc{"tied_test_time", yTrain20, tied, est(), []float64{15, 66}, []float64{0.3750000, 0.4357061}, 0.4204885})
	e := est()
	e[0] = e[len(e)-1]
	cases = append(cases, tc{"tied_test_score", yTrain20, y15, e, []float64{15, 66}, []float64{0.4242424, 0.539036}, 0.495604291})
	e = est()
	o := order(e)
	e[o[0]] = e[o[1]]
	cases = append(cases, tc{"tied_score_max", yTrain20, y15, e, []float64{15, 66}, []float64{0.3030303, 0.4357061}, 0.385509})
	e = est()
	o = order(e)
	e[o[len(o)-1]] = e[o[len(o)-2]]
	cases = append(cases, tc{"tied_score_min", yTrain20, y15, e, []float64{15, 66}, []float64{0.3030303, 0.4174082}, 0.374134})
	for _, c := range cases {
		r, err := CumulativeDynamicAUC(c.train, c.test, c.risk, c.times, IPCWOptions{Convention: GRight})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for k := range c.auc {
			if math.Abs(r.AUC[k]-c.auc[k]) > 5e-7 {
				t.Errorf("%s: AUC(%v) = %.7f want %.7f", c.name, c.times[k], r.AUC[k], c.auc[k])
			}
		}
		if math.Abs(r.Mean-c.mean) > 5e-7 {
			t.Errorf("%s: mean AUC %.7f want %.7f", c.name, r.Mean, c.mean)
		}
	}
}

// scikit-survival's test_uno_c cases: concordance_index_ipcw's C (and, with
// no truncation, its concordant/discordant/tied-risk counts).
func TestSksurvUnoC(t *testing.T) {
	mk := func(time []float64, event []int) []Outcome {
		y := make([]Outcome, len(time))
		for i := range y {
			y[i] = Outcome{Time: time[i], Event: event[i] == 1}
		}
		return y
	}
	train := mk([]float64{2, 4, 6, 8, 10, 11, 15, 19}, []int{0, 1, 0, 1, 0, 0, 0, 0})
	ties := mk([]float64{1, 5, 6, 10, 11, 34, 45, 46, 50, 56}, []int{0, 1, 1, 0, 1, 0, 1, 0, 0, 1})
	cases := []struct {
		name        string
		train, test []Outcome
		risk        []float64
		c           float64
		counts      [3]float64
		tau         float64
	}{
		{"no_ties", ties, ties, []float64{5, 8, 11, 19, 34, 12, 3, 9, 12, 20}, 0.347890360332615, [3]float64{8, 15, 0}, 0},
		{"tied_risk_1", ties, ties, []float64{5, 8, 11, 11, 34, 12, 3, 9, 12, 20}, 0.365629810028969, [3]float64{8, 14, 1}, 0},
		{"tied_risk_2", ties, ties, []float64{5, 8, 11, 11, 34, 12, 11, 9, 12, 20}, 0.387865723332956, [3]float64{7, 14, 2}, 0},
		{"truncated_1", train, mk([]float64{1, 3, 5, 8, 12, 13}, []int{1, 0, 0, 1, 1, 1}), []float64{5, 8, 13, 11, 9, 4}, 0.7543736528146774, [3]float64{4, 4, 0}, 19},
		{"truncated_2", mk([]float64{1, 5, 6, 10, 11, 34, 45, 46, 50, 56}, []int{0, 1, 1, 0, 1, 0, 1, 1, 1, 1}),
			mk([]float64{1, 5, 6, 10, 11, 34, 45, 46, 50, 56}, []int{0, 1, 1, 0, 1, 0, 1, 1, 1, 1}),
			[]float64{5, 8, 11, 19, 34, 12, 3, 9, 12, 18}, 0.347890361949191, [3]float64{8, 18, 0}, 45.25},
		{"last_time_censored", train, mk([]float64{1, 3, 5, 7, 12, 13, 20}, []int{1, 0, 0, 1, 1, 0, 0}), []float64{5, 8, 13, 11, 9, 7, 4}, 0.8126567565914234, [3]float64{6, 5, 0}, 0},
		{"tied_event", mk([]float64{1, 5, 6, 11, 11, 34, 45, 45, 50, 55}, []int{0, 1, 0, 1, 1, 0, 1, 0, 0, 1}),
			mk([]float64{1, 5, 6, 11, 11, 34, 45, 45, 50, 55}, []int{0, 1, 0, 1, 1, 0, 1, 0, 0, 1}),
			[]float64{5, 8, 11, 19, 34, 12, 3, 9, 12, 18}, 0.4036321031048623, [3]float64{11, 10, 0}, 0},
		{"tied_event_and_time", mk([]float64{34, 11, 11, 5, 1, 89, 13, 45, 7, 13, 9, 13, 90}, []int{1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1}),
			mk([]float64{34, 11, 11, 5, 1, 89, 13, 45, 7, 13, 9, 13, 90}, []int{1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1}),
			[]float64{1, 19, 13, 13, 15, 14, 19, 23, 11, 10, 11, 1, 18}, 0.46795357052737824, [3]float64{14, 12, 1}, 0},
	}
	for _, c := range cases {
		r, err := Concordance(c.test, c.risk, ConcordanceOptions{TimeWeight: Uno, Convention: GRight, Censoring: c.train, Tau: c.tau})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if math.Abs(r.C-c.c) > 1e-7 {
			t.Errorf("%s: C = %.15f want %.15f", c.name, r.C, c.c)
		}
		h, err := Concordance(c.test, c.risk, ConcordanceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := [3]float64{h.Concordant, h.Discordant, h.TiedRisk}; got != c.counts {
			t.Errorf("%s: counts %v want %v", c.name, got, c.counts)
		}
	}
}

// gbsg2 loads the German Breast Cancer Study Group 2 data (686 patients,
// as distributed with lifelines and scikit-survival).
func gbsg2(t *testing.T) *Table {
	f, err := os.Open("testdata/gbsg2.csv")
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

// npiPredictions reproduces scikit-survival's nottingham_prognostic_index
// fixture: patients grouped by the Nottingham prognostic index, each
// predicted by its group's Kaplan–Meier survival at the times.
func npiPredictions(t *testing.T, times []float64) ([]Outcome, [][]float64) {
	tab := gbsg2(t)
	ds, err := tab.Dataset(DatasetOptions{Time: "time", Event: "cens", Covariates: []string{"tsize"}, Keep: []string{"tgrade"}})
	if err != nil {
		t.Fatal(err)
	}
	grade := map[string]float64{"I": 1, "II": 2, "III": 3}
	group := make([]int, len(ds.Y))
	members := map[int][]Outcome{}
	for i, row := range ds.X {
		npi := 0.2*row[0]/10 + 1 + grade[ds.Kept["tgrade"][i]]
		switch {
		case npi < 3.4:
			group[i] = 1
		case npi <= 5.4:
			group[i] = 2
		default:
			group[i] = 3
		}
		members[group[i]] = append(members[group[i]], ds.Y[i])
	}
	curves := map[int]*KM{}
	for g, y := range members {
		if curves[g], err = KaplanMeier(y, KMOptions{ConfType: ConfNone}); err != nil {
			t.Fatal(err)
		}
	}
	pred := make([][]float64, len(ds.Y))
	for i := range pred {
		pred[i] = make([]float64, len(times))
		for k, tt := range times {
			pred[i][k] = curves[group[i]].At(tt)
		}
	}
	return ds.Y, pred
}

// TestSksurvBrierNottingham: scikit-survival's test_brier_nottingham_many
// and test_ibs_nottingham_{1,2}.
func TestSksurvBrierNottingham(t *testing.T) {
	times := []float64{365, 730, 1095, 1460, 1825}
	y, pred := npiPredictions(t, times)
	bs, err := BrierScore(y, y, pred, times, IPCWOptions{Convention: GRight})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.0762922458520448, 0.182536421174199, 0.220017747254941, 0.234133800146671, 0.233822955042198}
	for k := range want {
		if math.Abs(bs[k]-want[k]) > 1e-6*want[k] {
			t.Errorf("Brier(%v) = %.15f want %.15f", times[k], bs[k], want[k])
		}
	}
	for _, c := range []struct {
		n    int
		want float64
	}{{5, 0.197936392255733}, {4, 0.185922397142833}} {
		p := make([][]float64, len(pred))
		for i := range p {
			p[i] = pred[i][:c.n]
		}
		ibs, err := IntegratedBrier(y, y, p, times[:c.n], IPCWOptions{Convention: GRight})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(ibs-c.want) > 1e-6*c.want {
			t.Errorf("IBS over %d times = %.15f want %.15f", c.n, ibs, c.want)
		}
	}
	var days []float64
	for d := 1095.0; d < 1826; d++ {
		days = append(days, d)
	}
	y, pred = npiPredictions(t, days)
	ibs, err := IntegratedBrier(y, y, pred, days, IPCWOptions{Convention: GRight})
	if err != nil {
		t.Fatal(err)
	}
	if want := 0.231553687189643; math.Abs(ibs-want) > 1e-6*want {
		t.Errorf("IBS 3..5 years = %.15f want %.15f", ibs, want)
	}
}

// TestSksurvBrierCoxPH: scikit-survival's test_brier_coxph, a Cox model
// (Efron ties) on the one-hot GBSG2 covariates predicting 5-year survival,
// scored by the Brier score at 1825 days (matched to 1e-9; sksurv tests 1e-5).
func TestSksurvBrierCoxPH(t *testing.T) {
	tab := gbsg2(t)
	ds, err := tab.Dataset(DatasetOptions{Time: "time", Event: "cens",
		Covariates: []string{"horTh", "age", "menostat", "tsize", "pnodes", "progrec", "estrec"}, Keep: []string{"tgrade"}})
	if err != nil {
		t.Fatal(err)
	}
	grade := map[string]float64{"I": 1, "II": 2, "III": 3}
	for i := range ds.X {
		ds.X[i] = append(ds.X[i], grade[ds.Kept["tgrade"][i]])
	}
	fit, err := Cox(ds.Y, ds.X, append(ds.Names, "tgrade"), CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pred, err := fit.PredictSurvival(ds.X, nil, []float64{1825})
	if err != nil {
		t.Fatal(err)
	}
	bs, err := BrierScore(ds.Y, ds.Y, pred, []float64{1825}, IPCWOptions{Convention: GRight})
	if err != nil {
		t.Fatal(err)
	}
	if want := 0.208817407492645; math.Abs(bs[0]-want) > 1e-9*want {
		t.Errorf("Brier(1825) = %.15f want %.15f", bs[0], want)
	}
}

// scikit-survival's data_time_dependent case: time-dependent risk scores.
func TestSksurvTimeDependentAUC(t *testing.T) {
	mk := func(time []float64, event []int) []Outcome {
		y := make([]Outcome, len(time))
		for i := range y {
			y[i] = Outcome{Time: time[i], Event: event[i] == 1}
		}
		return y
	}
	test := mk([]float64{10.88, 19.78, 40.92, 98.7, 70.19, 10.15, 28.95, 29.57, 17.9, 63.78, 36.22, 83.14, 13.69, 99.51, 3.19},
		[]int{1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 1})
	train := mk([]float64{77.6, 57.6, 66.6, 67.0, 31.5, 5.5, 67.4, 43.7, 31.7, 71.9, 81.1, 56.2, 88.1, 2.9, 62.0, 17.2, 88.0, 26.4, 93.5, 79.9},
		[]int{1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1})
	cols := [][]float64{
		{0.566, 0.576, 0.506, 1.871, -0.04, 0.281, 0.335, -1.181, 1.368, -0.192, 0.955, 0.221, 0.057, -0.996, -1.27},
		{-2.658, -1.121, 1.903, -0.7, -1.013, -0.472, -0.668, -0.537, 1.659, 0.657, -1.317, -1.103, 2.159, 0.625, -0.067},
		{-1.004, -1.67, 0.775, -2.512, 1.179, 0.073, 0.103, -0.379, -0.082, -0.617, 1.287, -0.449, -0.477, 0.24, 0.838},
	}
	risk := make([][]float64, len(test))
	for i := range risk {
		risk[i] = []float64{cols[0][i], cols[1][i], cols[2][i]}
	}
	r, err := CumulativeDynamicAUCVarying(train, test, risk, []float64{15, 30, 72}, IPCWOptions{Convention: GRight})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.3636364, 0.5247813, 0.7603000}
	for k := range want {
		if math.Abs(r.AUC[k]-want[k]) > 5e-7 {
			t.Errorf("AUC[%d] = %.7f want %.7f", k, r.AUC[k], want[k])
		}
	}
	if math.Abs(r.Mean-0.5522067) > 5e-7 {
		t.Errorf("mean AUC %.7f want 0.5522067", r.Mean)
	}
}
