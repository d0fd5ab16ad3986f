package survival

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// newRand returns the package's seeded generator (PCG), so every split,
// bootstrap and imputation is reproducible from one uint64.
func newRand(seed uint64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// groupByStratum returns the row indices of each stratum, strata sorted.
func groupByStratum(strata []int) ([]int, map[int][]int) {
	groups := map[int][]int{}
	for i, s := range strata {
		groups[s] = append(groups[s], i)
	}
	keys := make([]int, 0, len(groups))
	for s := range groups {
		keys = append(keys, s)
	}
	sort.Ints(keys)
	return keys, groups
}

// largestRemainder rounds n·fractions to integers that sum to n.
func largestRemainder(n int, fractions []float64) []int {
	out := make([]int, len(fractions))
	rem := make([]float64, len(fractions))
	left := n
	for i, f := range fractions {
		x := float64(n) * f
		out[i] = int(math.Floor(x))
		rem[i] = x - float64(out[i])
		left -= out[i]
	}
	order := make([]int, len(fractions))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rem[order[a]] > rem[order[b]] })
	for k := 0; k < left; k++ {
		out[order[k%len(order)]]++
	}
	return out
}

// StratifiedSplit partitions 0..len(strata)−1 into len(fractions) sets
// whose sizes follow the fractions overall and within every stratum (up to
// rounding). Use Labels.Strata for strata so that undetermined (censored)
// patients form their own stratum. Reproducible by seed.
func StratifiedSplit(strata []int, fractions []float64, seed uint64) ([][]int, error) {
	if len(strata) == 0 {
		return nil, ErrEmpty
	}
	var sum float64
	for _, f := range fractions {
		if !(f >= 0) {
			return nil, fmt.Errorf("%w: split fraction %v (want >= 0)", ErrInput, f)
		}
		sum += f
	}
	if len(fractions) < 2 || math.Abs(sum-1) > 1e-9 {
		return nil, fmt.Errorf("%w: split fractions %v (want at least two summing to 1)", ErrInput, fractions)
	}
	rng := newRand(seed, 1)
	total := largestRemainder(len(strata), fractions)
	have := make([]int, len(fractions))
	keys, groups := groupByStratum(strata)
	// large strata first, so that the small ones absorb the rounding
	sort.SliceStable(keys, func(a, b int) bool { return len(groups[keys[a]]) > len(groups[keys[b]]) })
	out := make([][]int, len(fractions))
	for _, s := range keys {
		rows := append([]int(nil), groups[s]...)
		rng.Shuffle(len(rows), func(a, b int) { rows[a], rows[b] = rows[b], rows[a] })
		counts, rem := make([]int, len(fractions)), make([]float64, len(fractions))
		left := len(rows)
		for j, f := range fractions {
			x := float64(len(rows)) * f
			counts[j] = int(math.Floor(x))
			rem[j] = x - float64(counts[j])
			left -= counts[j]
		}
		for ; left > 0; left-- {
			best := 0
			for j := range fractions {
				dj := float64(total[j]-have[j]-counts[j]) + rem[j]
				db := float64(total[best]-have[best]-counts[best]) + rem[best]
				if dj > db {
					best = j
				}
			}
			counts[best]++
			rem[best] = 0
		}
		at := 0
		for j, c := range counts {
			out[j] = append(out[j], rows[at:at+c]...)
			have[j] += c
			at += c
		}
	}
	for j := range out {
		sort.Ints(out[j])
	}
	return out, nil
}

// Split is one train/validation/test partition of row indices.
type Split struct {
	Train, Val, Test []int
}

// TrainValTest is the study's stratified 80/10/10 split.
func TrainValTest(strata []int, seed uint64) (Split, error) {
	p, err := StratifiedSplit(strata, []float64{0.8, 0.1, 0.1}, seed)
	if err != nil {
		return Split{}, err
	}
	return Split{Train: p[0], Val: p[1], Test: p[2]}, nil
}

// Fold is one cross-validation fold: train on Train, evaluate on Test.
type Fold struct {
	Train, Test []int
}

// StratifiedKFold deals each stratum's shuffled rows round-robin over k
// folds (continuing the deal across strata, so fold sizes differ by at
// most one) and returns the k train/test folds. Reproducible by seed.
func StratifiedKFold(strata []int, k int, seed uint64) ([]Fold, error) {
	if k < 2 || k > len(strata) {
		return nil, fmt.Errorf("%w: %d folds for %d rows (want 2 <= k <= n)", ErrInput, k, len(strata))
	}
	rng := newRand(seed, 2)
	test := make([][]int, k)
	keys, groups := groupByStratum(strata)
	next := 0
	for _, s := range keys {
		rows := append([]int(nil), groups[s]...)
		rng.Shuffle(len(rows), func(a, b int) { rows[a], rows[b] = rows[b], rows[a] })
		for _, r := range rows {
			test[next] = append(test[next], r)
			next = (next + 1) % k
		}
	}
	folds := make([]Fold, k)
	for f := range folds {
		sort.Ints(test[f])
		inTest := make([]bool, len(strata))
		for _, r := range test[f] {
			inTest[r] = true
		}
		train := make([]int, 0, len(strata)-len(test[f]))
		for i := range strata {
			if !inTest[i] {
				train = append(train, i)
			}
		}
		folds[f] = Fold{Train: train, Test: test[f]}
	}
	return folds, nil
}

// RepeatedKFold runs StratifiedKFold repeats times with seeds derived from
// seed, returning repeats×k folds.
func RepeatedKFold(strata []int, k, repeats int, seed uint64) ([][]Fold, error) {
	if repeats < 1 {
		return nil, fmt.Errorf("%w: %d repeats (want >= 1)", ErrInput, repeats)
	}
	rng := newRand(seed, 3)
	var out [][]Fold // grown as folds are made: a bad call fails before allocating repeats rows
	for range repeats {
		f, err := StratifiedKFold(strata, k, rng.Uint64())
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}
