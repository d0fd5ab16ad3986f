package survival

import (
	"context"
	"fmt"
	"math"
	"sort"
)

// BootstrapOptions configures Bootstrap. The zero value draws 1000
// resamples for a 95% percentile interval with seed 0.
type BootstrapOptions struct {
	Resamples int
	Level     float64
	Seed      uint64
	// Strata, when set, resamples within each stratum (keeps class counts).
	Strata []int
	// Progress, when set, is called after each resample.
	Progress func(done, total int)
}

// Interval is a point estimate with a bootstrap confidence interval.
type Interval struct {
	Estimate, Lower, Upper float64
	// SE is the standard deviation of the bootstrap replicates.
	SE float64
	// Failed counts resamples where the metric was undefined (e.g. an AUC
	// on a resample with one class); they are left out.
	Failed int
}

// maxResamples bounds BootstrapOptions.Resamples (the estimates are kept
// to take percentiles): far more than any interval needs.
const maxResamples = 1 << 24

// Bootstrap computes a percentile interval for any metric of n samples.
// metric receives the row indices of a resample (with repeats) and returns
// the metric on those rows; it is first called on 0..n−1 for the estimate.
func Bootstrap(ctx context.Context, n int, metric func(rows []int) (float64, error), o BootstrapOptions) (Interval, error) {
	if n == 0 {
		return Interval{}, ErrEmpty
	}
	if n < 0 || metric == nil {
		return Interval{}, fmt.Errorf("%w: bootstrap of %d samples, metric set: %t (want n > 0 and a metric)", ErrInput, n, metric != nil)
	}
	if o.Resamples == 0 {
		o.Resamples = 1000
	}
	if o.Level == 0 {
		o.Level = 0.95
	}
	if !(o.Level > 0 && o.Level < 1) || o.Resamples < 2 || o.Resamples > maxResamples {
		return Interval{}, fmt.Errorf("%w: bootstrap level %v with %d resamples (want 0<level<1, 2..%d resamples)", ErrInput, o.Level, o.Resamples, maxResamples)
	}
	if o.Strata != nil && len(o.Strata) != n {
		return Interval{}, fmt.Errorf("%w: %d strata labels for %d samples", ErrShape, len(o.Strata), n)
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	est, err := metric(all)
	if err != nil {
		return Interval{}, fmt.Errorf("survival: bootstrap estimate: %w", err)
	}
	groups := [][]int{all}
	if o.Strata != nil {
		keys, g := groupByStratum(o.Strata)
		groups = groups[:0]
		for _, k := range keys {
			groups = append(groups, g[k])
		}
	}
	rng := newRand(o.Seed, 4)
	reps := make([]float64, 0, o.Resamples)
	rows := make([]int, n)
	res := Interval{Estimate: est}
	for b := 0; b < o.Resamples; b++ {
		if err := ctx.Err(); err != nil {
			return Interval{}, err
		}
		at := 0
		for _, g := range groups {
			for range g {
				rows[at] = g[rng.IntN(len(g))]
				at++
			}
		}
		v, err := metric(rows)
		if err != nil || math.IsNaN(v) {
			res.Failed++
		} else {
			reps = append(reps, v)
		}
		if o.Progress != nil {
			o.Progress(b+1, o.Resamples)
		}
	}
	if len(reps) < 2 {
		return Interval{}, fmt.Errorf("%w: bootstrap metric failed on %d of %d resamples", ErrInput, res.Failed, o.Resamples)
	}
	sort.Float64s(reps)
	a := (1 - o.Level) / 2
	res.Lower, res.Upper = quantileSorted(reps, a), quantileSorted(reps, 1-a)
	var mean, ss float64
	for _, v := range reps {
		mean += v / float64(len(reps))
	}
	for _, v := range reps {
		ss += (v - mean) * (v - mean)
	}
	res.SE = math.Sqrt(ss / float64(len(reps)-1))
	return res, nil
}

// quantileSorted is the linear-interpolation quantile (numpy's default).
func quantileSorted(x []float64, p float64) float64 {
	h := p * float64(len(x)-1)
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(x) {
		return x[len(x)-1]
	}
	return x[i] + (h-lo)*(x[i+1]-x[i])
}

// BootstrapClasses bootstraps a classification metric (Accuracy-style
// functions of labels and class probabilities, e.g. a wrapper around
// MulticlassAUC) over samples, stratified by true class unless o.Strata
// is set.
func BootstrapClasses(ctx context.Context, yTrue []int, proba [][]float64,
	metric func(yTrue []int, proba [][]float64) (float64, error), o BootstrapOptions) (Interval, error) {
	if len(yTrue) != len(proba) {
		return Interval{}, fmt.Errorf("%w: %d labels but %d probability rows", ErrShape, len(yTrue), len(proba))
	}
	if o.Strata == nil {
		o.Strata = yTrue
	}
	y := make([]int, len(yTrue))
	p := make([][]float64, len(yTrue))
	return Bootstrap(ctx, len(yTrue), func(rows []int) (float64, error) {
		y, p = y[:len(rows)], p[:len(rows)]
		for k, i := range rows {
			y[k], p[k] = yTrue[i], proba[i]
		}
		return metric(y, p)
	}, o)
}
