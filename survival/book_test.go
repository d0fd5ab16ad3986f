package survival

import (
	"math"
	"testing"
)

// Therneau & Grambsch's appendix data set 1 (R survival's tests/book1.R
// and book2.R), row with a missing status removed: closed-form Breslow and
// Efron log-likelihoods, information, solutions and baseline hazards.
var book1Y = []Outcome{{9, true}, {1, true}, {1, false}, {6, true}, {6, true}, {8, false}}
var book1X = [][]float64{{0}, {1}, {1}, {1}, {0}, {0}}

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s: got %.12g want %.12g", name, got, want)
	}
}

func TestBookBreslow(t *testing.T) {
	loglik := func(b float64) float64 {
		r := math.Exp(b)
		return 2*b - (math.Log(3*r+3) + 2*math.Log(r+3))
	}
	imat := func(b float64) float64 {
		r := math.Exp(b)
		return r/((r+1)*(r+1)) + 6*r/((r+3)*(r+3))
	}
	fit, err := Cox(book1Y, book1X, nil, CoxOptions{Ties: Breslow, Eps: 1e-8})
	if err != nil {
		t.Fatal(err)
	}
	beta := math.Log(1.5 + math.Sqrt(33)/2)
	near(t, "beta", fit.Coef[0], beta)
	near(t, "loglik(0)", fit.LogLik[0], loglik(0))
	near(t, "loglik(beta)", fit.LogLik[1], loglik(beta))
	near(t, "var", fit.Var[0][0], 1/imat(beta))
	r := math.Exp(beta)
	haz := []float64{1 / (3*r + 3), 2 / (r + 3), 0, 1} // times 1, 6, 8, 9
	bh := fit.BaseHaz(false)[0]
	var cum float64
	for k, h := range haz {
		cum += h
		near(t, "baseline hazard", bh.Hazard[k], cum)
	}
	one, err := Cox(book1Y, book1X, nil, CoxOptions{Ties: Breslow, MaxIter: 1})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "one iteration", one.Coef[0], 8.0/5)
	two, err := Cox(book1Y, book1X, nil, CoxOptions{Ties: Breslow, MaxIter: 2})
	if err != nil {
		t.Fatal(err)
	}
	if math.Round(two.Coef[0]*1e6)/1e6 != 1.472724 {
		t.Errorf("two iterations: %.7f want 1.472724", two.Coef[0])
	}
}

func TestBookEfron(t *testing.T) {
	loglik := func(b float64) float64 {
		r := math.Exp(b)
		return 2*b - (math.Log(3*r+3) + math.Log((r+5)/2) + math.Log(r+3))
	}
	imat := func(b float64) float64 {
		r := math.Exp(b)
		f := func(x float64) float64 { return x - x*x }
		return f(r/(r+1)) + f(r/(r+5)) + f(r/(r+3))
	}
	fit, err := Cox(book1Y, book1X, nil, CoxOptions{Eps: 1e-8})
	if err != nil {
		t.Fatal(err)
	}
	beta := math.Log(math.Cos(math.Acos((45.0/23)*math.Sqrt(3.0/23))/3) * 2 * math.Sqrt(23.0/3))
	near(t, "beta", fit.Coef[0], beta)
	if math.Round(fit.Coef[0]*1e6)/1e6 != 1.676857 {
		t.Errorf("beta %.7f want 1.676857", fit.Coef[0])
	}
	near(t, "loglik(0)", fit.LogLik[0], loglik(0))
	near(t, "loglik(beta)", fit.LogLik[1], loglik(beta))
	near(t, "var", fit.Var[0][0], 1/imat(beta))
	// baseline hazard at x = 0: one death per column of the book's weight
	// matrix; the two deaths at time 6 are columns 2 and 3.
	r := math.Exp(beta)
	cols := [][]float64{{r, r, r, 1, 1, 1}, {0, 0, r, 1, 1, 1}, {0, 0, r / 2, 0.5, 1, 1}, {0, 0, 0, 0, 0, 1}}
	haz := make([]float64, 4)
	for k, c := range cols {
		var s float64
		for _, v := range c {
			s += v
		}
		haz[k] = 1 / s
	}
	want := []float64{haz[0], haz[0] + haz[1] + haz[2], haz[0] + haz[1] + haz[2], haz[0] + haz[1] + haz[2] + haz[3]}
	bh := fit.BaseHaz(false)[0]
	for k := range want {
		near(t, "baseline hazard", bh.Hazard[k], want[k])
	}
}
