package survival

import (
	"math"
	"sort"
)

// ECDF is the empirical cumulative distribution function of a sample: the
// study's Figure 1 plots it for survival times with the class cut points.
type ECDF struct {
	// X are the sorted distinct values, F the fraction of the sample <= X.
	X, F []float64
	N    int
}

// NewECDF builds the ECDF of x, ignoring NaN values.
func NewECDF(x []float64) *ECDF {
	v := make([]float64, 0, len(x))
	for _, a := range x {
		if !math.IsNaN(a) {
			v = append(v, a)
		}
	}
	sort.Float64s(v)
	e := &ECDF{N: len(v)}
	for i, a := range v {
		if i+1 < len(v) && v[i+1] == a {
			continue
		}
		e.X = append(e.X, a)
		e.F = append(e.F, float64(i+1)/float64(len(v)))
	}
	return e
}

// At returns the fraction of the sample <= t.
func (e *ECDF) At(t float64) float64 {
	if math.IsNaN(t) {
		return math.NaN()
	}
	i := stepAt(e.X, t)
	if i < 0 {
		return 0
	}
	return e.F[i]
}
