package volume

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// ErrEmpty reports a statistic asked of no voxels (an empty mask).
var ErrEmpty = errors.New("volume: no voxels selected")

// Stats summarises a set of voxel values, accumulated in float64.
type Stats struct {
	N        int     // number of voxels
	Mean     float64 // arithmetic mean
	Std      float64 // population standard deviation (numpy's ddof=0)
	Min, Max float64
}

// selected checks that mask (nil = every voxel) fits x.
func selected(x []float32, mask []bool) error {
	if mask != nil && len(mask) != len(x) {
		return fmt.Errorf("%w: mask of %d voxels for %d values", ErrShape, len(mask), len(x))
	}
	return nil
}

// Describe returns count, mean, population standard deviation, min and max
// of the values of x where mask is true (all of x when mask is nil). The
// standard deviation takes a second pass over the deviations from the mean,
// as numpy does, so it stays accurate for data with a large offset. A NaN
// value makes every field but N NaN.
func Describe(x []float32, mask []bool) (Stats, error) {
	if err := selected(x, mask); err != nil {
		return Stats{}, err
	}
	st := Stats{Min: math.Inf(1), Max: math.Inf(-1)}
	var sum float64
	nan := false
	for i, v := range x {
		if mask != nil && !mask[i] {
			continue
		}
		f := float64(v)
		st.N++
		sum += f
		if f < st.Min {
			st.Min = f
		}
		if f > st.Max {
			st.Max = f
		}
		nan = nan || f != f
	}
	if st.N == 0 {
		return Stats{}, ErrEmpty
	}
	if nan {
		n := math.NaN()
		return Stats{N: st.N, Mean: n, Std: n, Min: n, Max: n}, nil
	}
	st.Mean = sum / float64(st.N)
	var ss float64
	for i, v := range x {
		if mask != nil && !mask[i] {
			continue
		}
		d := float64(v) - st.Mean
		ss += d * d
	}
	st.Std = math.Sqrt(ss / float64(st.N))
	return st, nil
}

// Stats describes v's voxels inside m (all voxels when m is nil).
func (v *Volume) Stats(m *Mask) (Stats, error) {
	mask, err := v.maskData(m)
	if err != nil {
		return Stats{}, err
	}
	return Describe(v.Data, mask)
}

// Percentiles describes v's voxels inside m (all voxels when m is nil) by
// the percentiles qs, as the package function Percentiles.
func (v *Volume) Percentiles(m *Mask, qs ...float64) ([]float64, error) {
	mask, err := v.maskData(m)
	if err != nil {
		return nil, err
	}
	return Percentiles(v.Data, mask, qs...)
}

func (v *Volume) maskData(m *Mask) ([]bool, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, nil
	}
	if err := m.check(v.Dims); err != nil {
		return nil, err
	}
	return m.Data, nil
}

// Percentiles returns the q-th percentiles (q in [0, 100]) of the values of
// x where mask is true (all when mask is nil), with numpy.percentile's
// default "linear" rule: for the n values sorted, position q/100·(n−1)
// between ranks ⌊·⌋ and ⌊·⌋+1, interpolated as numpy's _lerp does (from the
// lower value when the fraction is below 0.5, else from the upper one), in
// float64. It uses selection, not a full sort, so it costs O(n) per
// percentile on a copy of the selected values; x is not modified. Any NaN
// among the values makes every percentile NaN, as in numpy.
func Percentiles(x []float32, mask []bool, qs ...float64) ([]float64, error) {
	if err := selected(x, mask); err != nil {
		return nil, err
	}
	for _, q := range qs {
		if !(q >= 0 && q <= 100) {
			return nil, fmt.Errorf("volume: percentile %g outside [0, 100]", q)
		}
	}
	buf := make([]float32, 0, len(x))
	nan := false
	for i, v := range x {
		if mask == nil || mask[i] {
			buf = append(buf, v)
			nan = nan || v != v
		}
	}
	if len(buf) == 0 {
		return nil, ErrEmpty
	}
	out := make([]float64, len(qs))
	if nan {
		for i := range out {
			out[i] = math.NaN()
		}
		return out, nil
	}
	// Select in increasing order of rank so each selection works on the
	// still-unordered part to the right of the previous one.
	order := make([]int, len(qs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmpFloat(qs[a], qs[b]) })
	n := len(buf)
	from := 0
	for _, qi := range order {
		vi := qs[qi] / 100 * float64(n-1)
		lo := min(int(math.Floor(vi)), n-1)
		g := vi - float64(lo)
		selectKth(buf[from:], lo-from)
		from = lo
		a := float64(buf[lo])
		b := a
		if lo+1 < n {
			b = float64(slices.Min(buf[lo+1:]))
		}
		out[qi] = lerpNumpy(a, b, g)
	}
	return out, nil
}

// lerpNumpy is numpy's _lerp: a + (b−a)·t, computed as b − (b−a)·(1−t)
// when t ≥ 0.5 so that t = 1 returns b exactly.
func lerpNumpy(a, b, t float64) float64 {
	d := b - a
	if t >= 0.5 {
		return b - d*(1-t)
	}
	return a + d*t
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// selectKth reorders a so that a[k] is the value of rank k, everything
// before it ≤ a[k] and everything after ≥ a[k] (introselect: Hoare
// partitions around a median of three, which split runs of equal values
// evenly, with a fall back to a full sort if the partitions stay
// unbalanced).
func selectKth(a []float32, k int) {
	lo, hi := 0, len(a)-1
	budget := 2 * bits.Len(uint(len(a)))
	for hi > lo {
		if budget == 0 || hi-lo < 16 {
			slices.Sort(a[lo : hi+1])
			return
		}
		budget--
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		p := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		// Now a[lo..j] ≤ p, a[i..hi] ≥ p and a[j+1..i-1] == p.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}
