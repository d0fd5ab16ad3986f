package volume

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Stats summarises a set of voxel values, accumulated in float64.
type Stats struct {
	N        int     // number of voxels
	Mean     float64 // arithmetic mean
	Std      float64 // population standard deviation (numpy's ddof=0)
	Min, Max float64
}

// selected returns the voxel flags of m (nil = every voxel) after checking
// that m is consistent and has one flag per value of x.
func selected(x []float32, m *Mask) ([]bool, error) {
	if m == nil {
		return nil, nil
	}
	if err := m.check(m.Dims); err != nil {
		return nil, err
	}
	if len(m.Data) != len(x) {
		return nil, fmt.Errorf("%w: mask of %d voxels for %d values", ErrShape, len(m.Data), len(x))
	}
	return m.Data, nil
}

// Describe returns count, mean, population standard deviation, min and max
// of the values of x that m marks (all of x when m is nil; m.Data must
// have one flag per value, in the same order). The
// standard deviation takes a second pass over the deviations from the mean,
// as numpy does, so it stays accurate for data with a large offset. A NaN
// value makes every field but N NaN.
func Describe(x []float32, m *Mask) (Stats, error) {
	mask, err := selected(x, m)
	if err != nil {
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
	if err := v.checkMaskOn(m); err != nil {
		return Stats{}, err
	}
	return Describe(v.Data, m)
}

// Percentiles describes v's voxels inside m (all voxels when m is nil) by
// the percentiles qs, as the package function Percentiles.
func (v *Volume) Percentiles(m *Mask, qs ...float64) ([]float64, error) {
	if err := v.checkMaskOn(m); err != nil {
		return nil, err
	}
	return Percentiles(v.Data, m, qs...)
}

// checkMaskOn verifies v and that m (if not nil) lies on v's grid.
func (v *Volume) checkMaskOn(m *Mask) error {
	if err := v.check(); err != nil {
		return err
	}
	if m == nil {
		return nil
	}
	return m.check(v.Dims)
}

// Percentiles returns the q-th percentiles (q in [0, 100]) of the values of
// x that m marks (all when m is nil; as for Describe), with numpy.percentile's
// default "linear" rule: for the n values sorted, position q/100·(n−1)
// between ranks ⌊·⌋ and ⌊·⌋+1, interpolated as numpy's _lerp does (from the
// lower value when the fraction is below 0.5, else from the upper one), in
// float64 as numpy does for float32 data. It finds ranks without sorting:
// a histogram of the top 16 bits of the values' order-preserving bit
// patterns locates the bucket of each rank, and only the values of those
// buckets are copied and selected, so it costs two passes over x; x is not
// modified. Any NaN among the values makes every percentile NaN, as in
// numpy.
func Percentiles(x []float32, m *Mask, qs ...float64) ([]float64, error) {
	mask, err := selected(x, m)
	if err != nil {
		return nil, err
	}
	for _, q := range qs {
		if !(q >= 0 && q <= 100) {
			return nil, fmt.Errorf("%w: percentile %g outside [0, 100]", ErrInvalid, q)
		}
	}
	r := newRanker(x, mask)
	if r.n == 0 {
		return nil, ErrEmpty
	}
	out := make([]float64, len(qs))
	ranks := make([]int, 0, 2*len(qs))
	for _, q := range qs {
		lo, _ := percentileRank(q, r.n)
		ranks = append(ranks, lo, min(lo+1, r.n-1))
	}
	vals := r.values(x, mask, ranks)
	for i, q := range qs {
		_, g := percentileRank(q, r.n)
		out[i] = lerpNumpy(float64(vals[2*i]), float64(vals[2*i+1]), g)
	}
	return out, nil
}

// percentileRank returns numpy's lower rank ⌊q/100·(n−1)⌋ and the fraction
// above it.
func percentileRank(q float64, n int) (int, float64) {
	vi := q / 100 * float64(n-1)
	lo := min(int(math.Floor(vi)), n-1)
	return lo, vi - float64(lo)
}

// sortKey maps a float32 to a uint32 with the same order (NaN aside).
func sortKey(v float32) uint32 {
	b := math.Float32bits(v)
	if b&(1<<31) != 0 {
		return ^b
	}
	return b | 1<<31
}

// ranker finds values of given ranks among the selected values of x from
// a histogram of their sort keys' top 16 bits.
type ranker struct {
	n    int
	nan  bool
	hist []int // 1<<16 bucket counts
}

func newRanker(x []float32, mask []bool) *ranker {
	r := &ranker{hist: make([]int, 1<<16)}
	for i, v := range x {
		if mask != nil && !mask[i] {
			continue
		}
		r.n++
		r.nan = r.nan || v != v
		r.hist[sortKey(v)>>16]++
	}
	return r
}

// values returns the values of the given ranks (each in [0, n)): NaN for
// every rank if a value is NaN.
func (r *ranker) values(x []float32, mask []bool, ranks []int) []float32 {
	out := make([]float32, len(ranks))
	if r.nan {
		for i := range out {
			out[i] = float32(math.NaN())
		}
		return out
	}
	// Bucket of each rank and its rank within the bucket.
	start := make([]int, len(r.hist)) // rank of each bucket's first value
	for b, total := 0, 0; b < len(r.hist); b++ {
		start[b] = total
		total += r.hist[b]
	}
	slot := make([]int32, len(r.hist)) // 1 + index into bufs, 0 = not needed
	var bufs [][]float32
	bucketOf := make([]int, len(ranks))
	for i, k := range ranks {
		b := bucketOfRank(start, k)
		bucketOf[i] = b
		if slot[b] == 0 {
			bufs = append(bufs, make([]float32, 0, r.hist[b]))
			slot[b] = int32(len(bufs))
		}
	}
	for i, v := range x {
		if mask != nil && !mask[i] {
			continue
		}
		if s := slot[sortKey(v)>>16]; s != 0 {
			bufs[s-1] = append(bufs[s-1], v)
		}
	}
	for i, k := range ranks {
		b := bucketOf[i]
		vals := bufs[slot[b]-1]
		j := k - start[b]
		selectKth(vals, j)
		out[i] = vals[j]
	}
	return out
}

// bucketOfRank returns the bucket holding rank k: the last bucket whose first
// rank is ≤ k among non-empty buckets.
func bucketOfRank(start []int, k int) int {
	// start is non-decreasing; find the largest b with start[b] ≤ k and a
	// non-empty bucket, i.e. start[b+1] > k.
	lo, hi := 0, len(start)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if start[mid] <= k {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
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
