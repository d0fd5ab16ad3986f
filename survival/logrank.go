package survival

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// LogRankOptions configures LogRank. The zero value is the log-rank test.
type LogRankOptions struct {
	// Rho is the Harrington–Fleming weight exponent: each event time is
	// weighted by S(t−)^Rho of the pooled Kaplan–Meier curve (0 = log-rank,
	// 1 = Peto–Peto modification of Gehan–Wilcoxon), as R's survdiff.
	Rho float64
	// Strata, when set, gives each patient a stratum: the test compares
	// groups within strata (R's strata() term in survdiff).
	Strata []string
}

// LogRankResult is the k-sample test of equal survival, as R's survdiff.
type LogRankResult struct {
	// Groups are the group labels, numerically sorted when every label is
	// a number, otherwise sorted as text (R's factor level order).
	Groups []string
	N      []int
	// Observed and Expected are the (weighted) event counts per group.
	Observed, Expected []float64
	// Var is the k×k variance of Observed − Expected (row-major).
	Var   [][]float64
	ChiSq float64
	DF    int
	P     float64
}

// LogRank tests whether the survival curves of the groups differ, as R's
// survdiff: with o.Strata the observed and expected counts and their
// variance are summed over strata (the stratified log-rank test). Groups
// with no expected events are left out of the test, which has one degree
// of freedom fewer than the groups that remain (0 and χ² = 0 when fewer
// than two remain).
func LogRank(y []Outcome, group []string, o LogRankOptions) (*LogRankResult, error) {
	if err := checkPaired(y, len(group), "group labels", o.Strata); err != nil {
		return nil, err
	}
	y = TimeFix(y)
	levels, gi := groupLevels(group)
	if math.IsNaN(o.Rho) || math.IsInf(o.Rho, 0) {
		return nil, fmt.Errorf("%w: log-rank weight exponent rho %v (want a finite number)", ErrInput, o.Rho)
	}
	k := len(levels)
	if k < 2 {
		return nil, fmt.Errorf("%w: log-rank test needs at least two groups (got %d)", ErrInput, k)
	}
	r := &LogRankResult{Groups: levels, N: make([]int, k), Observed: make([]float64, k), Expected: make([]float64, k)}
	for i := range y {
		r.N[gi[i]]++
	}
	V := mat.NewDense(k, k, nil)
	for _, rows := range strataRows(o.Strata, len(y)) {
		sub := make([]Outcome, len(rows))
		g := make([]int, len(rows))
		for j, i := range rows {
			sub[j], g[j] = y[i], gi[i]
		}
		logRankStratum(sub, g, k, o.Rho, r, V)
	}
	r.Var = make([][]float64, k)
	for a := range r.Var {
		r.Var[a] = mat.Row(nil, a, V)
	}
	chi, df, err := survdiffChiSq(r.Observed, r.Expected, V)
	if err != nil {
		return nil, err
	}
	r.ChiSq, r.DF = chi, df
	r.P = 1
	if df > 0 {
		r.P = distuv.ChiSquared{K: float64(df)}.Survival(chi)
	}
	return r, nil
}

// logRankStratum adds one stratum's observed and expected counts and
// hypergeometric variance, weighting event times by S(t−)^rho of the
// stratum's pooled Kaplan–Meier curve.
func logRankStratum(y []Outcome, gi []int, k int, rho float64, r *LogRankResult, V *mat.Dense) {
	idx := sortedIndex(y)
	nrisk := make([]float64, k)
	for _, g := range gi {
		nrisk[g]++
	}
	dk := make([]float64, k)
	ntot := float64(len(y))
	pooledS := 1.0
	for i := 0; i < len(idx); {
		t := y[idx[i]].Time
		clear(dk)
		var d float64
		j := i
		for ; j < len(idx) && y[idx[j]].Time == t; j++ {
			if y[idx[j]].Event {
				dk[gi[idx[j]]]++
				d++
			}
		}
		if d > 0 {
			w := math.Pow(pooledS, rho)
			for g := 0; g < k; g++ {
				r.Observed[g] += w * dk[g]
				r.Expected[g] += w * d * nrisk[g] / ntot
			}
			if ntot > 1 {
				f := w * w * d * (ntot - d) / (ntot * ntot * (ntot - 1))
				for a := 0; a < k; a++ {
					for b := 0; b < k; b++ {
						v := -nrisk[a] * nrisk[b]
						if a == b {
							v += nrisk[a] * ntot
						}
						V.Set(a, b, V.At(a, b)+f*v)
					}
				}
			}
			pooledS *= (ntot - d) / ntot
		}
		for ; i < j; i++ {
			nrisk[gi[idx[i]]]--
			ntot--
		}
	}
}

// survdiffChiSq is R survdiff's test: keep the groups with expected > 0,
// drop the first of them, and solve (O−E)' V⁻¹ (O−E) on the rest.
func survdiffChiSq(obs, exp []float64, V *mat.Dense) (float64, int, error) {
	var keep []int
	for g, e := range exp {
		if e > 0 {
			keep = append(keep, g)
		}
	}
	if len(keep) < 2 {
		return 0, 0, nil
	}
	keep = keep[1:]
	m := len(keep)
	u := mat.NewVecDense(m, nil)
	sub := mat.NewDense(m, m, nil)
	for a, ga := range keep {
		u.SetVec(a, obs[ga]-exp[ga])
		for b, gb := range keep {
			sub.Set(a, b, V.At(ga, gb))
		}
	}
	var x mat.VecDense
	if err := x.SolveVec(sub, u); err != nil {
		return 0, 0, fmt.Errorf("%w: log-rank variance is singular: %w", ErrSingular, err)
	}
	return mat.Dot(u, &x), m, nil
}

// GroupLevels returns the distinct labels in the order LogRank reports
// them: numerically when every label is a number, otherwise as text.
func GroupLevels(group []string) []string {
	levels, _ := groupLevels(group)
	return levels
}

// groupLevels returns the sorted distinct labels and each label's index.
func groupLevels(group []string) ([]string, []int) {
	seen := map[string]bool{}
	var levels []string
	numeric := true
	for _, g := range group {
		if !seen[g] {
			seen[g] = true
			levels = append(levels, g)
			if _, err := strconv.ParseFloat(g, 64); err != nil {
				numeric = false
			}
		}
	}
	sort.Slice(levels, func(a, b int) bool {
		if numeric {
			x, _ := strconv.ParseFloat(levels[a], 64)
			y, _ := strconv.ParseFloat(levels[b], 64)
			return x < y
		}
		return levels[a] < levels[b]
	})
	pos := map[string]int{}
	for i, l := range levels {
		pos[l] = i
	}
	gi := make([]int, len(group))
	for i, g := range group {
		gi[i] = pos[g]
	}
	return levels, gi
}
