package nnloss

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/survival"
)

// TestLinearDeepSurvIsCox trains a linear "network" eta = X·beta with the
// Cox loss through nn's autograd (plain gradient descent) and checks that
// it reaches the Newton–Raphson Cox fit: DeepSurv without hidden layers is
// the Cox model.
func TestLinearDeepSurvIsCox(t *testing.T) {
	rng := rand.New(rand.NewPCG(90, 91))
	n, p := 200, 3
	y := make([]survival.Outcome, n)
	x := make([][]float64, n)
	xs := make([]float32, n*p)
	for i := range y {
		x[i] = make([]float64, p)
		var lp float64
		for j := range x[i] {
			v := float64(float32(rng.NormFloat64()))
			x[i][j], xs[i*p+j] = v, float32(v)
			lp += []float64{0.8, -0.5, 0.2}[j] * v
		}
		tt := rng.ExpFloat64() / math.Exp(lp)
		c := rng.ExpFloat64() * 2
		y[i] = survival.Outcome{Time: math.Min(tt, c), Event: tt <= c}
	}
	fit, err := survival.Cox(y, x, nil, survival.CoxOptions{Ties: survival.Breslow})
	if err != nil {
		t.Fatal(err)
	}
	X, err := nn.FromData(xs, n, p)
	if err != nil {
		t.Fatal(err)
	}
	beta, _ := nn.FromData(make([]float32, p), p, 1)
	beta.SetRequiresGrad(true)
	for step := 0; step < 800; step++ {
		g := nn.NewGraph(nn.Options{Grad: true})
		eta := g.MatMul(X, beta, nn.MatMulOptions{})
		loss, err := Cox(g, eta, y, survival.Breslow)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		for j := range beta.Data {
			beta.Data[j] -= 1 * beta.Grad().Data[j]
		}
		beta.ZeroGrad()
	}
	for j := range fit.Coef {
		if math.Abs(float64(beta.Data[j])-fit.Coef[j]) > 2e-3 {
			t.Errorf("beta[%d] = %v after training, Cox fit %v", j, beta.Data[j], fit.Coef[j])
		}
	}
}
