package umap

import (
	"fmt"
	"math"
)

// FitAB fits the embedded-distance curve 1/(1 + a·x^(2b)) to the target
// membership — 1 below minDist, exp(−(x − minDist)/spread) above — on 300
// points of [0, 3·spread] by Levenberg–Marquardt least squares from
// (1, 1), as umap-learn's find_ab_params does with scipy's curve_fit.
func FitAB(spread, minDist float64) (a, b float64, err error) {
	if !(spread > 0) || !(minDist >= 0) || minDist > spread {
		return 0, 0, fmt.Errorf("%w: spread %g, min_dist %g", ErrOptions, spread, minDist)
	}
	const m = 300
	xs := make([]float64, m)
	ys := make([]float64, m)
	for i := range xs {
		xs[i] = 3 * spread * float64(i) / (m - 1)
		if xs[i] < minDist {
			ys[i] = 1
		} else {
			ys[i] = math.Exp(-(xs[i] - minDist) / spread)
		}
	}
	cost := func(a, b float64) float64 {
		var s float64
		for i, x := range xs {
			r := 1/(1+a*math.Pow(x, 2*b)) - ys[i]
			s += r * r
		}
		return s
	}
	a, b = 1, 1
	lambda := 1e-3
	c := cost(a, b)
	for it := 0; it < 500; it++ {
		// normal equations JᵀJ δ = −Jᵀr
		var jaa, jab, jbb, ga, gb float64
		for i, x := range xs {
			if x == 0 {
				r := 1 - ys[i]
				_ = r
				continue // f(0) = 1 whatever a, b: zero Jacobian
			}
			p := math.Pow(x, 2*b)
			den := 1 + a*p
			f := 1 / den
			r := f - ys[i]
			da := -p / (den * den)
			db := -a * p * 2 * math.Log(x) / (den * den)
			jaa += da * da
			jab += da * db
			jbb += db * db
			ga += da * r
			gb += db * r
		}
		improved := false
		for try := 0; try < 30; try++ {
			haa, hbb := jaa*(1+lambda), jbb*(1+lambda)
			det := haa*hbb - jab*jab
			if det == 0 {
				lambda *= 10
				continue
			}
			da := -(hbb*ga - jab*gb) / det
			db := -(haa*gb - jab*ga) / det
			na, nb := a+da, b+db
			if nc := cost(na, nb); nc < c && na > 0 && nb > 0 {
				rel := (c - nc) / math.Max(c, 1e-300)
				a, b, c = na, nb, nc
				lambda = math.Max(lambda/10, 1e-12)
				improved = true
				if rel < 1e-12 {
					return a, b, nil
				}
				break
			}
			lambda *= 10
		}
		if !improved {
			break
		}
	}
	return a, b, nil
}
