package survival

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randomOutcomes draws n outcomes on a coarse grid (so times tie) with
// about 30% censoring.
func randomOutcomes(rng *rand.Rand, n int) []Outcome {
	y := make([]Outcome, n)
	for i := range y {
		y[i] = Outcome{Time: float64(1 + rng.IntN(n/3+2)), Event: rng.Float64() < 0.7}
	}
	y[0].Event = true
	return y
}

func randomMatrix(rng *rand.Rand, n, m int) [][]float64 {
	x := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, m)
		for j := range x[i] {
			x[i][j] = rng.NormFloat64()
		}
	}
	return x
}

// checkGrad compares an analytic gradient with central differences.
func checkGrad(t *testing.T, name string, x []float64, grad []float64, f func() float64) {
	t.Helper()
	const h = 1e-6
	for k := range x {
		old := x[k]
		x[k] = old + h
		fp := f()
		x[k] = old - h
		fm := f()
		x[k] = old
		fd := (fp - fm) / (2 * h)
		if math.Abs(fd-grad[k]) > 1e-6*math.Max(1, math.Abs(fd)) {
			t.Errorf("%s: d/dx[%d] analytic %.9g, finite difference %.9g", name, k, grad[k], fd)
		}
	}
}

func TestCoxLossGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, ties := range []Ties{Efron, Breslow} {
		y := randomOutcomes(rng, 40)
		eta := make([]float64, len(y))
		for i := range eta {
			eta[i] = rng.NormFloat64()
		}
		_, g, err := CoxLoss(y, eta, ties)
		if err != nil {
			t.Fatal(err)
		}
		checkGrad(t, "cox "+ties.String(), eta, g, func() float64 {
			v, _, _ := CoxLoss(y, eta, ties)
			return v
		})
	}
}

// TestCoxLossMatchesCoxFit ties the DeepSurv loss to R's partial
// likelihood: at the fitted coefficients, loss·events = −loglik.
func TestCoxLossMatchesCoxFit(t *testing.T) {
	ds, _ := loadFormula(t, "lung", "Surv(time, status) ~ age + sex + ph.ecog")
	for _, ties := range []Ties{Efron, Breslow} {
		fit, err := Cox(ds.Y, ds.X, ds.Names, CoxOptions{Ties: ties})
		if err != nil {
			t.Fatal(err)
		}
		eta := make([]float64, len(ds.X))
		for i, row := range ds.X {
			eta[i] = fit.LinearPredictor(row)
		}
		v, g, err := CoxLoss(ds.Y, eta, ties)
		if err != nil {
			t.Fatal(err)
		}
		if got := -v * float64(fit.NEvent); math.Abs(got-fit.LogLik[1]) > 1e-9*math.Abs(got) {
			t.Errorf("%v: loss gives loglik %.12g, Cox fit %.12g", ties, got, fit.LogLik[1])
		}
		// at the optimum the score X'g vanishes
		for j := range fit.Coef {
			var s float64
			for i, row := range ds.X {
				s += row[j] * g[i]
			}
			if math.Abs(s) > 1e-6 {
				t.Errorf("%v: score %d = %g at the fitted coefficients", ties, j, s)
			}
		}
	}
}

func gridProblem(rng *rand.Rand, n, m int) ([][]float64, []int, []bool) {
	phi := randomMatrix(rng, n, m)
	idx := make([]int, n)
	ev := make([]bool, n)
	for i := range idx {
		idx[i] = rng.IntN(m)
		ev[i] = rng.Float64() < 0.6
	}
	return phi, idx, ev
}

// checkMatrixGrad runs checkGrad over every row of a matrix argument.
func checkMatrixGrad(t *testing.T, name string, x, grad [][]float64, f func() float64) {
	t.Helper()
	for i := range x {
		checkGrad(t, name, x[i], grad[i], f)
	}
}

func TestDiscreteLossGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	phi, idx, ev := gridProblem(rng, 12, 6)
	_, g, err := LogisticHazardLoss(phi, idx, ev)
	if err != nil {
		t.Fatal(err)
	}
	checkMatrixGrad(t, "logistic hazard", phi, g, func() float64 { v, _, _ := LogisticHazardLoss(phi, idx, ev); return v })
	_, g, err = PMFLoss(phi, idx, ev)
	if err != nil {
		t.Fatal(err)
	}
	checkMatrixGrad(t, "pmf", phi, g, func() float64 { v, _, _ := PMFLoss(phi, idx, ev); return v })
	o := DeepHitOptions{Alpha: 0.3, Sigma: 0.5}
	_, g, err = DeepHitLoss(phi, idx, ev, o)
	if err != nil {
		t.Fatal(err)
	}
	checkMatrixGrad(t, "deephit", phi, g, func() float64 { v, _, _ := DeepHitLoss(phi, idx, ev, o); return v })
}

// TestPMFLossDefinition checks nll_pmf against its definition without the
// max shift: −log softmax for events, −log of the tail for censorings.
func TestPMFLossDefinition(t *testing.T) {
	phi := [][]float64{{0.5, -1, 2}, {1, 0, -0.5}}
	idx := []int{1, 0}
	ev := []bool{true, false}
	v, _, err := PMFLoss(phi, idx, ev)
	if err != nil {
		t.Fatal(err)
	}
	z0 := math.Exp(0.5) + math.Exp(-1) + math.Exp(2) + 1
	z1 := math.Exp(1) + math.Exp(0) + math.Exp(-0.5) + 1
	want := (-math.Log(math.Exp(-1)/z0) - math.Log((math.Exp(0)+math.Exp(-0.5)+1)/z1)) / 2
	if math.Abs(v-want) > 1e-6 {
		t.Errorf("pmf loss %.9g want %.9g", v, want)
	}
}

func TestOrdinalLossGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := 15
	logits := randomMatrix(rng, n, 2)
	y := make([]int, n)
	minClass := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(3)
		if i%4 == 0 {
			y[i], minClass[i] = -1, rng.IntN(2)
		}
	}
	_, g, err := CoralLoss(logits, y, minClass)
	if err != nil {
		t.Fatal(err)
	}
	checkMatrixGrad(t, "coral", logits, g, func() float64 { v, _, _ := CoralLoss(logits, y, minClass); return v })
	eta := make([]float64, n)
	for i := range eta {
		eta[i] = rng.NormFloat64()
	}
	theta := []float64{-0.5, 0.8}
	_, gEta, gTheta, err := CumulativeLinkLoss(eta, theta, y, minClass)
	if err != nil {
		t.Fatal(err)
	}
	f := func() float64 { v, _, _, _ := CumulativeLinkLoss(eta, theta, y, minClass); return v }
	checkGrad(t, "cumulative link eta", eta, gEta, f)
	checkGrad(t, "cumulative link theta", theta, gTheta, f)
}

func TestDiscreteTimeTransform(t *testing.T) {
	d := DiscreteTime{Cuts: []float64{0, 10, 20, 30}}
	y := []Outcome{{5, true}, {10, true}, {15, false}, {20, false}, {35, true}, {0, true}}
	idx, ev, err := d.Transform(y)
	if err != nil {
		t.Fatal(err)
	}
	wantIdx := []int{1, 1, 1, 2, 3, 0}
	wantEv := []bool{true, true, false, false, false, true}
	for i := range y {
		if idx[i] != wantIdx[i] || ev[i] != wantEv[i] {
			t.Errorf("%v -> (%d, %v) want (%d, %v)", y[i], idx[i], ev[i], wantIdx[i], wantEv[i])
		}
	}
}

// Issue 12: with one global shift, risk sets without the top scorer
// underflowed: y = {1 event, 2 censored, 3 event, 4 event} and
// η = [800, 0, 0, 0] gave −Inf and NaN gradients with a nil error, and
// η₀ = 745 gave 23.9 instead of 0.231. Each risk set now has its own
// log-sum-exp. Exact values: (log(1 + 3e^−η₀) + log 2 + 0)/3 and
// gradient ≈ (0, 0, −1/6, 1/6).
func TestCoxLossPerRiskSetLogSumExp(t *testing.T) {
	y, _ := NewOutcomes([]float64{1, 2, 3, 4}, []bool{true, false, true, true})
	for _, e0 := range []float64{745, 800, 1e6} {
		for _, ties := range []Ties{Efron, Breslow} {
			loss, grad, err := CoxLoss(y, []float64{e0, 0, 0, 0}, ties)
			if err != nil {
				t.Fatal(err)
			}
			if want := math.Log(2) / 3; math.Abs(loss-want) > 1e-12 {
				t.Errorf("η₀=%v %v: loss %v, want %v", e0, ties, loss, want)
			}
			for j, w := range []float64{0, 0, -1.0 / 6, 1.0 / 6} {
				if math.Abs(grad[j]-w) > 1e-12 {
					t.Errorf("η₀=%v %v: grad[%d] = %v, want %v", e0, ties, j, grad[j], w)
				}
			}
		}
	}
	// Shift invariance across a huge offset, and a large negative score.
	base := []float64{0.3, -1.2, 2.5, 0.7}
	l0, g0, _ := CoxLoss(y, base, Efron)
	shifted := make([]float64, 4)
	for i, v := range base {
		shifted[i] = v - 5000
	}
	l1, g1, err := CoxLoss(y, shifted, Efron)
	if err != nil || math.Abs(l0-l1) > 1e-9 {
		t.Fatalf("shift by −5000: loss %v vs %v (%v)", l1, l0, err)
	}
	for i := range g0 {
		if math.Abs(g0[i]-g1[i]) > 1e-12 {
			t.Fatalf("shift by −5000: grad[%d] %v vs %v", i, g1[i], g0[i])
		}
	}
}

// The cumulative-link likelihood is a difference of sigmoids: near 0 or 1
// it cancelled to 0 (and the loss was clamped at −log(5e−324) ≈ 744 with a
// zero gradient). In log space it stays exact.
func TestCumulativeLinkExtremeScores(t *testing.T) {
	theta := []float64{0, 1}
	cases := []struct {
		eta  float64
		y    int
		want float64 // −log P
	}{
		{1000, 0, 1000},  // P(Y=0) = σ(−1000)
		{-1000, 2, 1001}, // P(Y=2) = σ(1−1000)... = 1 − σ(1001)
		{-1000, 1, 1000 - math.Log(-math.Expm1(-1))}, // σ(1001) − σ(1000)
		{1000, 1, 999 - math.Log(-math.Expm1(-1))},   // σ(−999) − σ(−1000)
	}
	for _, c := range cases {
		loss, gEta, gTheta, err := CumulativeLinkLoss([]float64{c.eta}, theta, []int{c.y}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(loss-c.want) > 1e-9*c.want {
			t.Errorf("η=%v y=%d: loss %v, want %v", c.eta, c.y, loss, c.want)
		}
		for _, g := range append(gEta, gTheta...) {
			if math.IsNaN(g) || math.IsInf(g, 0) || math.Abs(g) > 2 {
				t.Errorf("η=%v y=%d: gradient %v %v", c.eta, c.y, gEta, gTheta)
			}
		}
	}
	// Far in the tail d(−log P)/dη → ±1 (the log-sigmoid's slope).
	_, g, _, _ := CumulativeLinkLoss([]float64{1000}, theta, []int{0}, nil)
	if math.Abs(g[0]-1) > 1e-12 {
		t.Fatalf("d/dη at η=1000, y=0: %v, want 1", g[0])
	}
}
