package nnloss

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/survival"
)

// randomOutcomes draws n outcomes on a coarse grid (ties) with censoring.
func randomOutcomes(rng *rand.Rand, n int) []survival.Outcome {
	y := make([]survival.Outcome, n)
	for i := range y {
		y[i] = survival.Outcome{Time: float64(1 + rng.IntN(n/3+2)), Event: rng.Float64() < 0.7}
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

// leaf returns a trainable tensor holding x.
func leaf(t *testing.T, x []float64, shape ...int) *nn.Tensor {
	d := make([]float32, len(x))
	for i, v := range x {
		d[i] = float32(v)
	}
	tt, err := nn.FromData(d, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return tt.SetRequiresGrad(true)
}

// checkNN runs a wrapped loss through nn's autograd and compares the value
// and the input gradients with the float64 function.
func checkNN(t *testing.T, name string, build func(g *nn.Graph) (*nn.Tensor, error), want float64, ins []*nn.Tensor, grads [][]float64) {
	t.Helper()
	g := nn.NewGraph(nn.Options{Grad: true})
	loss, err := build(g)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if math.Abs(float64(loss.Item())-want) > 1e-5*math.Max(1, math.Abs(want)) {
		t.Errorf("%s: value %v want %v", name, loss.Item(), want)
	}
	if err := g.Backward(loss); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for k, in := range ins {
		for i, v := range in.Grad().Data {
			if math.Abs(float64(v)-grads[k][i]) > 1e-5*math.Max(1, math.Abs(grads[k][i])) {
				t.Fatalf("%s: grad[%d][%d] = %v want %v", name, k, i, v, grads[k][i])
			}
		}
	}
}

func f32round(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(float32(v))
	}
	return out
}

func TestWrappersMatchLosses(t *testing.T) {
	rng := rand.New(rand.NewPCG(30, 31))
	y := randomOutcomes(rng, 20)
	eta := make([]float64, len(y))
	for i := range eta {
		eta[i] = rng.NormFloat64()
	}
	eta = f32round(eta)
	v, g, _ := survival.CoxLoss(y, eta, survival.Efron)
	e := leaf(t, eta, len(eta), 1)
	checkNN(t, "cox", func(gr *nn.Graph) (*nn.Tensor, error) { return Cox(gr, e, y, survival.Efron) }, v, []*nn.Tensor{e}, [][]float64{g})

	phi, idx, ev := gridProblem(rng, 10, 5)
	for i := range phi {
		phi[i] = f32round(phi[i])
	}
	p := leaf(t, flatten(phi), 10, 5)
	v, gm, _ := survival.PMFLoss(phi, idx, ev)
	checkNN(t, "pmf", func(gr *nn.Graph) (*nn.Tensor, error) { return PMF(gr, p, idx, ev) }, v, []*nn.Tensor{p}, [][]float64{flatten(gm)})
	p = leaf(t, flatten(phi), 10, 5)
	v, gm, _ = survival.LogisticHazardLoss(phi, idx, ev)
	checkNN(t, "logistic hazard", func(gr *nn.Graph) (*nn.Tensor, error) { return LogisticHazard(gr, p, idx, ev) }, v, []*nn.Tensor{p}, [][]float64{flatten(gm)})
	p = leaf(t, flatten(phi), 10, 5)
	v, gm, _ = survival.DeepHitLoss(phi, idx, ev, survival.DeepHitOptions{})
	checkNN(t, "deephit", func(gr *nn.Graph) (*nn.Tensor, error) { return DeepHit(gr, p, idx, ev, survival.DeepHitOptions{}) }, v, []*nn.Tensor{p}, [][]float64{flatten(gm)})

	labels := []int{0, 2, 1, -1, 2, 0, 1, 1, -1, 0}
	minClass := []int{0, 2, 1, 1, 2, 0, 1, 1, 0, 0}
	lg := randomMatrix(rng, 10, 2)
	for i := range lg {
		lg[i] = f32round(lg[i])
	}
	l := leaf(t, flatten(lg), 10, 2)
	v, gm, _ = survival.CoralLoss(lg, labels, minClass)
	checkNN(t, "coral", func(gr *nn.Graph) (*nn.Tensor, error) { return Coral(gr, l, labels, minClass) }, v, []*nn.Tensor{l}, [][]float64{flatten(gm)})
	s := f32round(eta[:10])
	theta := []float64{-0.5, 0.75}
	se, th := leaf(t, s, 10), leaf(t, theta, 2)
	v, ge, gt, _ := survival.CumulativeLinkLoss(s, theta, labels, minClass)
	checkNN(t, "cumulative link", func(gr *nn.Graph) (*nn.Tensor, error) {
		return CumulativeLink(gr, se, th, labels, minClass)
	}, v, []*nn.Tensor{se, th}, [][]float64{ge, gt})

	// an invalid batch is an error on the graph, not a panic
	gr := nn.NewGraph(nn.Options{Grad: true})
	noEvents := []survival.Outcome{{Time: 1}, {Time: 2}}
	if _, err := Cox(gr, leaf(t, []float64{0, 1}, 2), noEvents, survival.Efron); err == nil || gr.Err() == nil {
		t.Error("Cox loss without events accepted")
	}
}
