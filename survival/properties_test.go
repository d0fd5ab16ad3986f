package survival

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestKaplanMeierProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	for trial := 0; trial < 20; trial++ {
		y := randomOutcomes(rng, 5+rng.IntN(60))
		for _, ct := range []ConfType{ConfLog, ConfLogLog, ConfPlain} {
			km, err := KaplanMeier(y, KMOptions{ConfType: ct})
			if err != nil {
				t.Fatal(err)
			}
			for i := range km.Surv {
				if km.Surv[i] < 0 || km.Surv[i] > 1 || (i > 0 && km.Surv[i] > km.Surv[i-1]) {
					t.Fatalf("KM not a non-increasing probability: %v", km.Surv)
				}
				if lo, hi := km.Lower[i], km.Upper[i]; !math.IsNaN(lo) && (lo > km.Surv[i]+1e-12 || hi < km.Surv[i]-1e-12) {
					t.Fatalf("%s interval [%v, %v] excludes S=%v", ct, lo, hi, km.Surv[i])
				}
			}
		}
	}
}

// TestKaplanMeierNoCensoring: without censoring KM is one minus the
// empirical CDF, and R's median rule takes the midpoint of a flat at 0.5.
func TestKaplanMeierNoCensoring(t *testing.T) {
	y := []Outcome{{1, true}, {2, true}, {3, true}, {4, true}}
	km, err := KaplanMeier(y, KMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := NewECDF(Times(y))
	for _, tt := range []float64{0.5, 1, 2.5, 4, 9} {
		if math.Abs(km.At(tt)-(1-e.At(tt))) > 1e-15 {
			t.Errorf("S(%v)=%v, 1-ECDF=%v", tt, km.At(tt), 1-e.At(tt))
		}
	}
	if m := km.Median(); m != 2.5 {
		t.Errorf("median %v want 2.5 (midpoint of the flat at 0.5)", m)
	}
	if r, _ := km.RMST(4); r != 2.5 {
		t.Errorf("RMST(4) = %v want mean time 2.5", r)
	}
	if q := km.Quantile(0.25); q != 1.5 {
		t.Errorf("quartile %v want 1.5 (flat at 0.75 on [1, 2))", q)
	}
}

// bruteConcordance counts pairs by definition, O(n²): a death at t is
// comparable with anyone whose time is later, or equal and censored; two
// deaths at the same time are tied on time.
func bruteConcordance(y []Outcome, r []float64, w func(float64) float64) ConcordanceResult {
	var c ConcordanceResult
	for i := range y {
		if !y[i].Event {
			continue
		}
		wi := w(y[i].Time)
		for j := range y {
			if j == i {
				continue
			}
			switch {
			case y[j].Time > y[i].Time || (y[j].Time == y[i].Time && !y[j].Event):
				switch {
				case r[i] > r[j]:
					c.Concordant += wi
				case r[i] < r[j]:
					c.Discordant += wi
				default:
					c.TiedRisk += wi
				}
			case y[j].Time == y[i].Time && j < i:
				if r[i] == r[j] {
					c.TiedBoth += wi
				} else {
					c.TiedTime += wi
				}
			}
		}
	}
	return c
}

func TestConcordanceBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	for trial := 0; trial < 30; trial++ {
		n := 3 + rng.IntN(80)
		y := randomOutcomes(rng, n)
		r := make([]float64, n)
		for i := range r {
			r[i] = float64(rng.IntN(6))
		}
		tau := float64(1 + rng.IntN(n/3+2))
		for _, o := range []ConcordanceOptions{{}, {TimeWeight: Uno, Tau: tau}, {Tau: tau}} {
			got, err := Concordance(y, r, o)
			w, _ := timeWeights(y, allRows(n), o)
			want := bruteConcordance(y, r, w)
			if want.Concordant+want.Discordant+want.TiedRisk == 0 {
				if !errors.Is(err, ErrNoEvents) {
					t.Fatalf("no comparable pair: %v, want ErrNoEvents", err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range [][2]float64{{got.Concordant, want.Concordant}, {got.Discordant, want.Discordant},
				{got.TiedRisk, want.TiedRisk}, {got.TiedTime, want.TiedTime}, {got.TiedBoth, want.TiedBoth}} {
				if math.Abs(p[0]-p[1]) > 1e-9*math.Max(1, p[1]) {
					t.Fatalf("options %+v: got %+v want %+v", o, got, want)
				}
			}
		}
	}
}

func allRows(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = i
	}
	return r
}

// TestConcordanceReversed: negating a tie-free risk score gives 1 − C.
func TestConcordanceReversed(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 15))
	y := randomOutcomes(rng, 200)
	r := make([]float64, len(y))
	neg := make([]float64, len(y))
	for i := range r {
		r[i] = rng.Float64()
		neg[i] = -r[i]
	}
	a, _ := Concordance(y, r, ConcordanceOptions{})
	b, _ := Concordance(y, neg, ConcordanceOptions{})
	if math.Abs(a.C+b.C-1) > 1e-12 || a.Concordant != b.Discordant {
		t.Errorf("C=%v, reversed C=%v (want sum 1)", a.C, b.C)
	}
	// a perfect score: risk decreasing in time, no ties
	y2 := []Outcome{{1, true}, {2, true}, {3, false}, {4, true}}
	c, _ := Concordance(y2, []float64{4, 3, 2, 1}, ConcordanceOptions{})
	if c.C != 1 {
		t.Errorf("perfect risk gives C=%v", c.C)
	}
}

func TestCoxInvariances(t *testing.T) {
	y, x := syntheticCox(300, 3, 5)
	base, err := Cox(y, x, nil, CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x2 := make([][]float64, len(x))
	for i, row := range x {
		x2[i] = []float64{row[0] + 7, row[1] * 3, row[2]}
	}
	f, err := Cox(y, x2, nil, CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{base.Coef[0], base.Coef[1] / 3, base.Coef[2]}
	for j := range want {
		if math.Abs(f.Coef[j]-want[j]) > 1e-7 {
			t.Errorf("coef %d: %v want %v", j, f.Coef[j], want[j])
		}
	}
	one := make([]string, len(y))
	s, err := Cox(y, x, nil, CoxOptions{Strata: one})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(s.LogLik[1]-base.LogLik[1]) > 1e-9 {
		t.Errorf("single stratum loglik %v want %v", s.LogLik[1], base.LogLik[1])
	}
	// two strata: the loglik is the sum of the per-stratum fits at the
	// common beta, so it must be >= the sum evaluated at beta of one
	two := make([]string, len(y))
	for i := range two {
		two[i] = []string{"a", "b"}[i%2]
	}
	st, err := Cox(y, x, nil, CoxOptions{Strata: two})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.BaseHaz(false)) != 2 || !st.Converged {
		t.Errorf("stratified fit: %d baseline curves, converged %v", len(st.BaseHaz(false)), st.Converged)
	}
}

func TestBrierAndAUCWithoutCensoring(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 17))
	n := 50
	y := make([]Outcome, n)
	risk := make([]float64, n)
	pred := make([][]float64, n)
	times := []float64{0.3, 0.7, 1.2}
	for i := range y {
		risk[i] = rng.NormFloat64()
		y[i] = Outcome{Time: rng.ExpFloat64() / math.Exp(risk[i]), Event: true}
		pred[i] = make([]float64, len(times))
		for k, tt := range times {
			pred[i][k] = math.Exp(-tt * math.Exp(risk[i]))
		}
	}
	bs, err := BrierScore(y, y, pred, times, IPCWOptions{})
	if err != nil {
		t.Fatal(err)
	}
	auc, err := CumulativeDynamicAUC(y, y, risk, times, IPCWOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, tt := range times {
		var mse float64
		pos := make([]bool, n)
		for i := range y {
			alive := 0.0
			if y[i].Time > tt {
				alive = 1
			}
			pos[i] = alive == 0
			mse += (alive - pred[i][k]) * (alive - pred[i][k]) / float64(n)
		}
		if math.Abs(bs[k]-mse) > 1e-12 {
			t.Errorf("Brier(%v) = %v, MSE %v", tt, bs[k], mse)
		}
		a, _ := BinaryAUC(pos, risk)
		if math.Abs(auc.AUC[k]-a) > 1e-12 {
			t.Errorf("AUC(%v) = %v, plain AUC %v", tt, auc.AUC[k], a)
		}
	}
}

func TestLabels(t *testing.T) {
	y := []Outcome{{3, true}, {10, true}, {30, false}, {4, false}, {15, false}, {25, true}, {21, false}, {2, true}}
	l, err := StudyClasses().Label(y, Months)
	if err != nil {
		t.Fatal(err)
	}
	wantClass := []int{0, 1, 2, -1, -1, 2, 2, 0}
	wantMin := []int{0, 1, 2, 0, 1, 2, 2, 0}
	for i := range y {
		if l.Class[i] != wantClass[i] || l.MinClass[i] != wantMin[i] || l.Known[i] != (wantClass[i] >= 0) {
			t.Errorf("patient %v: class %d (min %d) want %d (min %d)", y[i], l.Class[i], l.MinClass[i], wantClass[i], wantMin[i])
		}
		var s float64
		for j, p := range l.Prob[i] {
			s += p
			if j < l.MinClass[i] && p != 0 {
				t.Errorf("patient %v: impossible class %d has probability %v", y[i], j, p)
			}
		}
		if math.Abs(s-1) > 1e-12 {
			t.Errorf("patient %v: class probabilities sum to %v", y[i], s)
		}
		if (l.IPCW[i] > 0) != l.Known[i] || (l.Known[i] && l.IPCW[i] < 1) {
			t.Errorf("patient %v: IPCW %v", y[i], l.IPCW[i])
		}
	}
	// The IPCW-weighted class shares equal the Kaplan–Meier class shares.
	b, err := l.Balance(y, Months)
	if err != nil {
		t.Fatal(err)
	}
	var tot float64
	ws := make([]float64, 3)
	for i, c := range l.Class {
		if c >= 0 {
			ws[c] += l.IPCW[i]
		}
		tot += l.IPCW[i]
	}
	for c := range ws {
		if math.Abs(ws[c]/float64(len(y))-b.KMShares[c]) > 1e-12 {
			t.Errorf("class %d: IPCW share %v, KM share %v", c, ws[c]/float64(len(y)), b.KMShares[c])
		}
	}
	if b.Undetermined != 2 || b.Counts[2] != 3 {
		t.Errorf("balance %+v", b)
	}
	imp := l.Impute(5, 1)
	for _, v := range imp {
		for i, c := range v {
			if c < l.MinClass[i] || (l.Known[i] && c != l.Class[i]) {
				t.Errorf("imputed class %d for %v", c, y[i])
			}
		}
	}
	if !slices.Equal(l.Impute(5, 1)[3], imp[3]) {
		t.Error("imputation not reproducible by seed")
	}
	if _, err := (ClassScheme{Cuts: []float64{5, 2}}).Label(y, Months); err == nil {
		t.Error("decreasing cuts accepted")
	}
}

func TestSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 19))
	strata := make([]int, 503)
	for i := range strata {
		strata[i] = rng.IntN(4)
	}
	s, err := TrainValTest(strata, 7)
	if err != nil {
		t.Fatal(err)
	}
	all := append(append(append([]int(nil), s.Train...), s.Val...), s.Test...)
	slices.Sort(all)
	if !slices.Equal(all, allRows(len(strata))) {
		t.Fatal("split is not a partition")
	}
	if len(s.Train) != 403 || len(s.Val) != 50 || len(s.Test) != 50 {
		t.Errorf("sizes %d/%d/%d", len(s.Train), len(s.Val), len(s.Test))
	}
	for g := 0; g < 4; g++ {
		var n, tr int
		for i, v := range strata {
			if v == g {
				n++
				if slices.Contains(s.Train, i) {
					tr++
				}
			}
		}
		if math.Abs(float64(tr)-0.8*float64(n)) > 1.5 {
			t.Errorf("stratum %d: %d of %d in train", g, tr, n)
		}
	}
	s2, _ := TrainValTest(strata, 7)
	s3, _ := TrainValTest(strata, 8)
	if !slices.Equal(s.Test, s2.Test) || slices.Equal(s.Test, s3.Test) {
		t.Error("split not reproducible by seed, or seed ignored")
	}
	folds, err := StratifiedKFold(strata, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]int, len(strata))
	for _, f := range folds {
		if len(f.Test) < 100 || len(f.Test) > 101 || len(f.Train)+len(f.Test) != len(strata) {
			t.Errorf("fold sizes %d/%d", len(f.Train), len(f.Test))
		}
		for _, i := range f.Test {
			seen[i]++
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("row %d in %d test folds", i, c)
		}
	}
	rep, err := RepeatedKFold(strata, 5, 3, 1)
	if err != nil || len(rep) != 3 || slices.Equal(rep[0][0].Test, rep[1][0].Test) {
		t.Errorf("repeated CV: %v", err)
	}
}

func TestBootstrap(t *testing.T) {
	x := make([]float64, 200)
	rng := rand.New(rand.NewPCG(20, 21))
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	mean := func(rows []int) (float64, error) {
		var s float64
		for _, i := range rows {
			s += x[i]
		}
		return s / float64(len(rows)), nil
	}
	a, err := Bootstrap(context.Background(), len(x), mean, BootstrapOptions{Seed: 3, Resamples: 400})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Bootstrap(context.Background(), len(x), mean, BootstrapOptions{Seed: 3, Resamples: 400})
	if a != b {
		t.Error("bootstrap not reproducible by seed")
	}
	if !(a.Lower < a.Estimate && a.Estimate < a.Upper) || math.Abs(a.SE-1/math.Sqrt(200)) > 0.02 {
		t.Errorf("interval %+v (SE want about %v)", a, 1/math.Sqrt(200))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Bootstrap(ctx, len(x), mean, BootstrapOptions{}); err == nil {
		t.Error("cancelled context ignored")
	}
}

func TestNelsonAalenTies(t *testing.T) {
	y := []Outcome{{1, true}, {1, true}, {2, false}, {3, true}}
	b, _ := NelsonAalen(y, Breslow)
	e, _ := NelsonAalen(y, Efron)
	if b.CumHaz[0] != 0.5 || math.Abs(e.CumHaz[0]-(1.0/4+1.0/3)) > 1e-15 {
		t.Errorf("first step: Nelson–Aalen %v (want 1/2), Fleming–Harrington %v (want 1/4+1/3)", b.CumHaz[0], e.CumHaz[0])
	}
	if b.At(5) != 1.5 {
		t.Errorf("H(5) = %v want 1.5", b.At(5))
	}
}

func TestLogRankThreeGroups(t *testing.T) {
	ds, _ := loadFormula(t, "veteran", "Surv(time, status) ~ karno")
	tab := loadTable(t, "veteran")
	d2, err := tab.Dataset(DatasetOptions{Time: "time", Event: "status", Keep: []string{"celltype"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := LogRank(d2.Y, d2.Kept["celltype"], LogRankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var o, e float64
	for g := range r.Observed {
		o += r.Observed[g]
		e += r.Expected[g]
	}
	if r.DF != 3 || math.Abs(o-e) > 1e-9 || o != float64(CountEvents(ds.Y)) || !(r.P < 0.001) {
		t.Errorf("log-rank %+v", r)
	}
}

// FuzzReadCSV feeds arbitrary bytes to the CSV reader and, when a table
// comes back, to Dataset on its first two columns: errors are fine,
// panics are not.
func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("time,status,x\n1,1,a\n2,0,b\n3,2,\n"))
	f.Add([]byte("\"t\",\"e\"\n1,TRUE\nNA,1\n"))
	f.Add([]byte("a,a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := ReadCSV(bytes.NewReader(b), CSVOptions{})
		if err != nil || len(tab.Header) < 2 {
			return
		}
		cov := tab.Header[2:]
		ds, err := tab.Dataset(DatasetOptions{Time: tab.Header[0], Event: tab.Header[1], Covariates: cov})
		if err != nil {
			return
		}
		if len(ds.Y)+ds.Dropped != len(tab.Rows) {
			t.Fatalf("%d kept + %d dropped != %d rows", len(ds.Y), ds.Dropped, len(tab.Rows))
		}
		if _, err := KaplanMeier(ds.Y, KMOptions{}); err != nil {
			t.Fatalf("valid dataset rejected by KaplanMeier: %v", err)
		}
	})
}

// FuzzConcordance compares the Fenwick-tree counts with the O(n²)
// definition on arbitrary small inputs.
func FuzzConcordance(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := len(b) / 2
		if n == 0 || n > 64 {
			return
		}
		y := make([]Outcome, n)
		r := make([]float64, n)
		for i := 0; i < n; i++ {
			y[i] = Outcome{Time: float64(b[2*i] % 8), Event: b[2*i]&8 != 0}
			r[i] = float64(b[2*i+1] % 5)
		}
		got, err := Concordance(y, r, ConcordanceOptions{})
		want := bruteConcordance(y, r, func(float64) float64 { return 1 })
		if want.Concordant+want.Discordant+want.TiedRisk == 0 {
			if !errors.Is(err, ErrNoEvents) {
				t.Fatalf("no comparable pair: %v, want ErrNoEvents", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		got.C, want.C, got.SE = 0, 0, 0
		if *got != want {
			t.Fatalf("got %+v want %+v", *got, want)
		}
	})
}

// TestTimeFix: times equal up to floating-point noise are tied, as R's
// aeqSurv, so an analysis in months has the rows of the one in days.
func TestTimeFix(t *testing.T) {
	y := []Outcome{{1, true}, {1 + 1e-12, true}, {2, false}, {3, true}}
	f := TimeFix(y)
	if f[1].Time != 1 || f[2].Time != 2 || y[1].Time == 1 {
		t.Errorf("TimeFix %v (input %v)", f, y)
	}
	if g := TimeFix(y[2:]); &g[0] != &y[2] {
		t.Error("TimeFix copied an input without ties")
	}
	ds, _ := loadFormula(t, "lung", "Surv(time, status) ~ age")
	months, err := ConvertOutcomes(ds.Y, Days, Months)
	if err != nil {
		t.Fatal(err)
	}
	// perturb each time by a relative 1e-12, as a unit round trip might
	for i := range months {
		months[i].Time *= 1 + 1e-12*float64(i%3)
	}
	kd, _ := KaplanMeier(ds.Y, KMOptions{})
	km, _ := KaplanMeier(months, KMOptions{})
	if len(kd.Time) != len(km.Time) || math.Abs(km.Median()*DaysPerMonth-kd.Median()) > 1e-6 {
		t.Errorf("days: %d rows, median %v; months: %d rows, median %v", len(kd.Time), kd.Median(), len(km.Time), km.Median()*DaysPerMonth)
	}
}

// TestStratifiedCoxLikelihood: a stratified fit's log-likelihood is the
// sum of the strata's partial log-likelihoods at the fitted coefficients,
// where their total score vanishes.
func TestStratifiedCoxLikelihood(t *testing.T) {
	y, x := syntheticCox(400, 3, 9)
	strata := make([]string, len(y))
	for i := range strata {
		strata[i] = []string{"a", "b", "c"}[i%3]
	}
	fit, err := Cox(y, x, nil, CoxOptions{Strata: strata})
	if err != nil {
		t.Fatal(err)
	}
	var ll float64
	score := make([]float64, 3)
	for _, s := range []string{"a", "b", "c"} {
		var ys []Outcome
		var eta []float64
		var xs [][]float64
		for i := range y {
			if strata[i] == s {
				ys = append(ys, y[i])
				xs = append(xs, x[i])
				eta = append(eta, fit.LinearPredictor(x[i]))
			}
		}
		v, g, err := CoxLoss(ys, eta, Efron)
		if err != nil {
			t.Fatal(err)
		}
		ne := float64(CountEvents(ys))
		ll -= v * ne
		for i, row := range xs {
			for j := range score {
				score[j] += row[j] * g[i] * ne
			}
		}
	}
	if math.Abs(ll-fit.LogLik[1]) > 1e-9*math.Abs(ll) {
		t.Errorf("stratified loglik %.12g, sum over strata %.12g", fit.LogLik[1], ll)
	}
	for j, s := range score {
		if math.Abs(s) > 1e-6 {
			t.Errorf("score %d = %g at the stratified fit", j, s)
		}
	}
	if len(fit.BaseHaz(false)) != 3 {
		t.Errorf("%d baseline hazards, want 3", len(fit.BaseHaz(false)))
	}
	if _, err := fit.SurvivalAt(x[0], "z", 10); err == nil {
		t.Error("unknown stratum accepted")
	}
}

// TestCalibrationSingleBin: with one bin the observed value is the
// cohort's Kaplan–Meier estimate and the predicted value the mean.
func TestCalibrationSingleBin(t *testing.T) {
	rng := rand.New(rand.NewPCG(40, 41))
	y := randomOutcomes(rng, 60)
	pred := make([]float64, len(y))
	var mean float64
	for i := range pred {
		pred[i] = rng.Float64()
		mean += pred[i] / float64(len(y))
	}
	bins, err := Calibration(y, pred, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	km, _ := KaplanMeier(y, KMOptions{})
	if b := bins[0]; b.N != 60 || math.Abs(b.Predicted-mean) > 1e-12 || b.Observed != km.At(5) || !(b.Lower <= b.Observed && b.Observed <= b.Upper) {
		t.Errorf("bin %+v, KM %v, mean %v", b, km.At(5), mean)
	}
	bins, _ = Calibration(y, pred, 5, 4)
	for k := 1; k < len(bins); k++ {
		if bins[k].Predicted < bins[k-1].Predicted {
			t.Error("bins not ordered by prediction")
		}
	}
}

func TestSummary(t *testing.T) {
	y := []Outcome{{1, true}, {2, false}, {3, true}, {4, false}, {5, false}}
	s, err := Summarize(y)
	if err != nil {
		t.Fatal(err)
	}
	// reverse KM: censoring "events" at 2, 4, 5 with deaths as censored
	rk, _ := KaplanMeier(reverseOutcomes(y), KMOptions{})
	if s.N != 5 || s.Events != 2 || s.Censored != 3 || s.MedianFollowUp != rk.Median() || s.MedianFollowUp != 4 {
		t.Errorf("summary %+v", s)
	}
}

func TestReadCSVByteOrderMark(t *testing.T) {
	tab, err := ReadCSV(bytes.NewReader([]byte("\ufefftime,status\n1,1\n2,0\n")), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Dataset(DatasetOptions{Time: "time", Event: "status"}); err != nil {
		t.Errorf("BOM-prefixed header: %v", err)
	}
}

// TestLogRankDummyGroup is R's tests/difftest.R: adding a group whose
// patients are all censored before the first event leaves χ² and df
// unchanged.
func TestLogRankDummyGroup(t *testing.T) {
	times := []float64{9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161, 5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45, 1, 2, 2, 3, 3, 3, 4}
	status := []int{1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}
	var y []Outcome
	var g []string
	for i, tt := range times {
		y = append(y, Outcome{tt, status[i] == 1})
		g = append(g, []string{"Maintained", "Nonmaintained", "Dummy"}[min(i/11, 1)+boolInt(i >= 23)])
	}
	aml, err := LogRank(y[:23], g[:23], LogRankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	aml3, err := LogRank(y, g, LogRankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if aml.DF != 1 || aml3.DF != 1 || math.Abs(aml.ChiSq-aml3.ChiSq) > 1e-12 || math.Round(aml.ChiSq*10)/10 != 3.4 {
		t.Errorf("aml χ²=%v df=%d, aml3 χ²=%v df=%d (R: 3.4 on 1 df for both)", aml.ChiSq, aml.DF, aml3.ChiSq, aml3.DF)
	}
	if math.Round(aml.Expected[0]*100)/100 != 10.69 || math.Round(aml.Expected[1]*100)/100 != 7.31 {
		t.Errorf("expected %v (R: 10.69, 7.31)", aml.Expected)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestLogRankIsCoxScoreTest: without tied times the log-rank statistic is
// the score test of a Cox model on group indicators, stratified or not.
func TestLogRankIsCoxScoreTest(t *testing.T) {
	rng := rand.New(rand.NewPCG(50, 51))
	n := 120
	y := make([]Outcome, n)
	g := make([]string, n)
	s := make([]string, n)
	x := make([][]float64, n)
	for i := range y {
		grp := rng.IntN(3)
		g[i] = []string{"a", "b", "c"}[grp]
		s[i] = []string{"s1", "s2"}[rng.IntN(2)]
		x[i] = []float64{float64(boolInt(grp == 1)), float64(boolInt(grp == 2))}
		y[i] = Outcome{Time: rng.ExpFloat64() * (1 + float64(grp)), Event: rng.Float64() < 0.75}
	}
	for _, strata := range [][]string{nil, s} {
		lr, err := LogRank(y, g, LogRankOptions{Strata: strata})
		if err != nil {
			t.Fatal(err)
		}
		fit, err := Cox(y, x, nil, CoxOptions{Ties: Breslow, Strata: strata})
		if err != nil {
			t.Fatal(err)
		}
		if lr.DF != 2 || math.Abs(lr.ChiSq-fit.ScoreTest) > 1e-9*fit.ScoreTest {
			t.Errorf("strata %v: log-rank χ²=%v (df %d), Cox score test %v", strata != nil, lr.ChiSq, lr.DF, fit.ScoreTest)
		}
	}
}

// TestRMSTStandardError: without censoring the Kaplan–Meier mean is the
// sample mean and its Greenwood variance the plug-in Σ(T − T̄)²/n².
func TestRMSTStandardError(t *testing.T) {
	rng := rand.New(rand.NewPCG(60, 61))
	n := 40
	y := make([]Outcome, n)
	var mean float64
	for i := range y {
		y[i] = Outcome{Time: rng.ExpFloat64() * 10, Event: true}
		mean += y[i].Time / float64(n)
	}
	var ss float64
	for _, o := range y {
		ss += (o.Time - mean) * (o.Time - mean)
	}
	km, _ := KaplanMeier(y, KMOptions{})
	tau := km.Time[len(km.Time)-1]
	rm, _ := km.RMST(tau)
	se, err := km.RMSTSE(tau)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(rm-mean) > 1e-9 || math.Abs(se-math.Sqrt(ss)/float64(n)) > 1e-9 {
		t.Errorf("RMST %v ± %v, sample mean %v ± %v", rm, se, mean, math.Sqrt(ss)/float64(n))
	}
}

func TestKMSummaryAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(70, 71))
	y := randomOutcomes(rng, 80)
	km, _ := KaplanMeier(y, KMOptions{})
	times := []float64{0, 3, 7.5, 12, 40}
	rows, err := km.SummaryAt(times)
	if err != nil {
		t.Fatal(err)
	}
	var events float64
	for r, row := range rows {
		atRisk, ev := 0.0, 0.0
		for _, o := range y {
			if o.Time >= row.Time {
				atRisk++
			}
			lo := math.Inf(-1)
			if r > 0 {
				lo = times[r-1]
			}
			if o.Event && o.Time > lo && o.Time <= row.Time {
				ev++
			}
		}
		if row.NRisk != atRisk || row.NEvent != ev || row.Surv != km.At(row.Time) {
			t.Errorf("row %+v: want n.risk %v, n.event %v, S %v", row, atRisk, ev, km.At(row.Time))
		}
		events += row.NEvent
	}
	if events != float64(CountEvents(y)) && times[len(times)-1] >= km.Time[len(km.Time)-1] {
		t.Errorf("events %v, total %d", events, CountEvents(y))
	}
	if _, err := km.SummaryAt([]float64{5, 2}); err == nil {
		t.Error("decreasing times accepted")
	}
}

// bruteSE is R's concordance standard error by definition: each patient's
// weighted concordant/discordant/tied-risk pairs, O(n²).
func bruteSE(y []Outcome, r []float64, w func(float64) float64) float64 {
	n := len(y)
	infl := make([][3]float64, n)
	var c, d, tx float64
	for i := range y {
		if !y[i].Event {
			continue
		}
		wi := w(y[i].Time)
		for j := range y {
			if j == i || !(y[j].Time > y[i].Time || (y[j].Time == y[i].Time && !y[j].Event)) {
				continue
			}
			k := 2
			switch {
			case r[i] > r[j]:
				k = 0
				c += wi
			case r[i] < r[j]:
				k = 1
				d += wi
			default:
				tx += wi
			}
			infl[i][k] += wi
			infl[j][k] += wi
		}
	}
	den := c + d + tx
	somer := (c - d) / den
	var v float64
	for _, f := range infl {
		x := ((f[0] - f[1]) - (f[0]+f[1]+f[2])*somer) / (2 * den)
		v += x * x
	}
	return math.Sqrt(v)
}

func TestConcordanceSEBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(80, 81))
	for trial := 0; trial < 20; trial++ {
		n := 5 + rng.IntN(60)
		y := randomOutcomes(rng, n)
		r := make([]float64, n)
		for i := range r {
			r[i] = float64(rng.IntN(5))
		}
		for _, o := range []ConcordanceOptions{{}, {TimeWeight: Uno, Tau: float64(n / 4)}} {
			got, err := Concordance(y, r, o)
			if err != nil {
				t.Fatal(err)
			}
			w, _ := timeWeights(y, allRows(n), o)
			if want := bruteSE(y, r, w); math.Abs(got.SE-want) > 1e-12*math.Max(1, want) {
				t.Fatalf("options %+v: SE %v want %v", o, got.SE, want)
			}
		}
	}
}
