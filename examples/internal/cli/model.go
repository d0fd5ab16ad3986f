package cli

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/metasurv/metasurv/survival"
	"gonum.org/v1/gonum/mat"
)

// RidgeCox fits a Cox model with an L2 penalty lambda/2·‖β‖² (Breslow
// ties) by Newton–Raphson: the penalty keeps the fit finite with many
// covariates and few events, as glmnet or coxph(ridge()) would.
func RidgeCox(y []survival.Outcome, x [][]float64, lambda float64) ([]float64, error) {
	n := len(y)
	if n == 0 || len(x) != n {
		return nil, errors.New("cox: no patients")
	}
	p := len(x[0])
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return y[order[a]].Time > y[order[b]].Time })
	beta := make([]float64, p)
	loglik := func(b []float64) float64 {
		var ll, s float64
		for a := 0; a < n; {
			t := y[order[a]].Time
			c := a
			for ; c < n && y[order[c]].Time == t; c++ {
				s += math.Exp(dotf(x[order[c]], b))
			}
			for q := a; q < c; q++ {
				if y[order[q]].Event {
					ll += dotf(x[order[q]], b) - math.Log(s)
				}
			}
			a = c
		}
		return ll - lambda/2*dotf(b, b)
	}
	cur := loglik(beta)
	for it := 0; it < 50; it++ {
		grad := make([]float64, p)
		hess := mat.NewSymDense(p, nil)
		var s0 float64
		s1 := make([]float64, p)
		s2 := make([]float64, p*p)
		for a := 0; a < n; {
			t := y[order[a]].Time
			c := a
			for ; c < n && y[order[c]].Time == t; c++ {
				xi := x[order[c]]
				w := math.Exp(dotf(xi, beta))
				s0 += w
				for j := 0; j < p; j++ {
					s1[j] += w * xi[j]
					for k := j; k < p; k++ {
						s2[j*p+k] += w * xi[j] * xi[k]
					}
				}
			}
			for q := a; q < c; q++ {
				if !y[order[q]].Event {
					continue
				}
				xi := x[order[q]]
				for j := 0; j < p; j++ {
					grad[j] += xi[j] - s1[j]/s0
					for k := j; k < p; k++ {
						hess.SetSym(j, k, hess.At(j, k)+s2[j*p+k]/s0-s1[j]*s1[k]/(s0*s0))
					}
				}
			}
			a = c
		}
		for j := 0; j < p; j++ {
			grad[j] -= lambda * beta[j]
			hess.SetSym(j, j, hess.At(j, j)+lambda)
		}
		var ch mat.Cholesky
		if !ch.Factorize(hess) {
			return nil, errors.New("cox: information matrix not positive definite")
		}
		var step mat.VecDense
		if err := ch.SolveVecTo(&step, mat.NewVecDense(p, grad)); err != nil {
			return nil, err
		}
		next := make([]float64, p)
		for h := 0; h < 20; h++ {
			for j := range next {
				next[j] = beta[j] + step.AtVec(j)
			}
			if l := loglik(next); l >= cur-1e-12 {
				done := math.Abs(l-cur) < 1e-9*(math.Abs(cur)+1)
				beta, cur = next, l
				if done {
					return beta, nil
				}
				break
			}
			for j := 0; j < p; j++ {
				step.SetVec(j, step.AtVec(j)/2)
			}
		}
	}
	return beta, nil
}

func dotf(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Breslow returns the baseline cumulative hazard of a fitted Cox model at
// each distinct event time.
func Breslow(y []survival.Outcome, risk []float64) (times, cumhaz []float64) {
	n := len(y)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return y[order[a]].Time < y[order[b]].Time })
	var h float64
	for a := 0; a < n; {
		t := y[order[a]].Time
		c := a
		d := 0.0
		for ; c < n && y[order[c]].Time == t; c++ {
			if y[order[c]].Event {
				d++
			}
		}
		if d > 0 {
			var s float64
			for q := a; q < n; q++ {
				s += math.Exp(risk[order[q]])
			}
			h += d / s
			times = append(times, t)
			cumhaz = append(cumhaz, h)
		}
		a = c
	}
	return times, cumhaz
}

// PCA projects standardised features on their first principal axes,
// fitted on the training rows.
type PCA struct {
	Mean, SD   []float64
	Components [][]float64 // k × d
}

// FitPCA fits k components on rows.
func FitPCA(rows [][]float32, k int) (*PCA, error) {
	n := len(rows)
	if n < 2 {
		return nil, errors.New("pca: fewer than 2 rows")
	}
	d := len(rows[0])
	p := &PCA{}
	p.Mean, p.SD = meanSD(rows)
	m := mat.NewDense(n, d, nil)
	for i, r := range rows {
		for j, v := range r {
			if !math.IsNaN(float64(v)) { // missing: the mean, 0
				m.Set(i, j, (float64(v)-p.Mean[j])/p.SD[j])
			}
		}
	}
	var svd mat.SVD
	if !svd.Factorize(m, mat.SVDThin) {
		return nil, errors.New("pca: SVD failed")
	}
	var v mat.Dense
	svd.VTo(&v)
	_, vc := v.Dims()
	k = min(k, vc)
	for c := 0; c < k; c++ {
		comp := make([]float64, d)
		for j := 0; j < d; j++ {
			comp[j] = v.At(j, c)
		}
		p.Components = append(p.Components, comp)
	}
	return p, nil
}

// Project returns the component scores of one row.
func (p *PCA) Project(r []float32) []float64 {
	out := make([]float64, len(p.Components))
	for c, comp := range p.Components {
		var s float64
		for j, v := range r {
			if !math.IsNaN(float64(v)) {
				s += (float64(v) - p.Mean[j]) / p.SD[j] * comp[j]
			}
		}
		out[c] = s
	}
	return out
}

// CoxModel is a fitted survival model of the fallback study: a ridge Cox
// model on clinical features, image principal components, or both.
type CoxModel struct {
	Name     string
	Kind     string // clinical, image or fused
	Features []string
	Beta     []float64
	Lambda   float64 // the ridge penalty
	// Times and CumHaz are the Breslow baseline cumulative hazard.
	Times, CumHaz []float64
	// Cuts are the risks splitting the training patients into the three
	// predicted classes (high risk → <6 months).
	Cuts [2]float64
}

// FitCox fits a CoxModel and its class cut points on training data.
func FitCox(name, kind string, names []string, y []survival.Outcome, x [][]float64, lambda float64) (*CoxModel, error) {
	beta, err := RidgeCox(y, x, lambda)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	risk := make([]float64, len(x))
	for i := range x {
		risk[i] = dotf(x[i], beta)
	}
	t, h := Breslow(y, risk)
	s := append([]float64(nil), risk...)
	sort.Float64s(s)
	cuts := [2]float64{s[len(s)/3], s[2*len(s)/3]}
	return &CoxModel{Name: name, Kind: kind, Features: names, Beta: beta, Lambda: lambda, Times: t, CumHaz: h, Cuts: cuts}, nil
}

// Risk is the linear predictor.
func (m *CoxModel) Risk(x []float64) float64 { return dotf(x, m.Beta) }

// Class maps a risk to the study class predicted: 0 (<6 months) for the
// highest-risk third of training patients, 2 (≥21 months) for the lowest.
func (m *CoxModel) Class(risk float64) int {
	switch {
	case risk >= m.Cuts[1]:
		return 0
	case risk >= m.Cuts[0]:
		return 1
	}
	return 2
}

// Survival is S(t) = exp(−H0(t)·e^risk) at t.
func (m *CoxModel) Survival(risk, t float64) float64 {
	h := 0.0
	for i, tt := range m.Times {
		if tt > t {
			break
		}
		h = m.CumHaz[i]
	}
	return math.Exp(-h * math.Exp(risk))
}
