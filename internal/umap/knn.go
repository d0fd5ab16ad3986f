package umap

import (
	"context"
	"math"
	"sort"
	"sync/atomic"

	"github.com/metasurv/metasurv/internal/gemm"
	"github.com/metasurv/metasurv/internal/parallel"
)

// KNN is a k-nearest-neighbour graph: row i lists the K nearest points
// of point i (itself first, at distance 0) by increasing distance.
type KNN struct {
	N, K    int
	Indices []int32   // N×K
	Dists   []float32 // N×K, Euclidean
}

// ExactKNN finds the k nearest neighbours of every row of the n×d data by
// brute force: squared distances ‖x‖²+‖y‖²−2x·y for blocks of rows with
// one matrix multiply, a bounded heap per row, and the kept distances
// recomputed exactly in float64. Each row's own index comes first.
func ExactKNN(ctx context.Context, x []float32, n, d, k int) (*KNN, error) {
	if k > n {
		k = n
	}
	norms := make([]float32, n)
	parallel.For(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			var s float32
			for _, v := range x[i*d : (i+1)*d] {
				s += v * v
			}
			norms[i] = s
		}
	})
	out := &KNN{N: n, K: k, Indices: make([]int32, n*k), Dists: make([]float32, n*k)}
	const block = 256
	dots := make([]float32, block*n)
	for r0 := 0; r0 < n; r0 += block {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m := min(block, n-r0)
		gemm.Sgemm(false, true, m, n, d, 1, x[r0*d:], d, x, d, 0, dots, n)
		parallel.ForChunks(m, 8, func(lo, hi int) {
			h := newHeap(k)
			for r := lo; r < hi; r++ {
				i := r0 + r
				row := dots[r*n : (r+1)*n]
				h.reset()
				for j := 0; j < n; j++ {
					if j == i {
						continue
					}
					dd := norms[i] + norms[j] - 2*row[j]
					h.push(dd, int32(j))
				}
				finishRow(out, x, d, i, h)
			}
		})
	}
	return out, nil
}

// finishRow writes row i of the graph from the heap of k−1 candidates
// (self excluded), recomputing distances in float64 and sorting them.
func finishRow(out *KNN, x []float32, d, i int, h *maxHeap) {
	k := out.K
	type nd struct {
		j int32
		d float64
	}
	c := make([]nd, 0, k)
	for _, j := range h.idx[:h.n] {
		c = append(c, nd{j, dist64(x[i*d:(i+1)*d], x[int(j)*d:(int(j)+1)*d])})
	}
	sort.Slice(c, func(a, b int) bool {
		if c[a].d != c[b].d {
			return c[a].d < c[b].d
		}
		return c[a].j < c[b].j
	})
	out.Indices[i*k] = int32(i)
	out.Dists[i*k] = 0
	for t, e := range c {
		out.Indices[i*k+1+t] = e.j
		out.Dists[i*k+1+t] = float32(e.d)
	}
	for t := len(c) + 1; t < k; t++ { // fewer candidates than k−1: pad with self
		out.Indices[i*k+t] = int32(i)
		out.Dists[i*k+t] = 0
	}
}

func dist64(a, b []float32) float64 {
	var s float64
	for t := range a {
		v := float64(a[t]) - float64(b[t])
		s += v * v
	}
	return math.Sqrt(s)
}

// maxHeap keeps the k−1 smallest keys pushed into it.
type maxHeap struct {
	key   []float32
	idx   []int32
	fresh []bool // NN-descent: entry not yet used to make candidates
	n     int
}

func newHeap(k int) *maxHeap {
	return &maxHeap{key: make([]float32, k-1), idx: make([]int32, k-1), fresh: make([]bool, k-1)}
}

func (h *maxHeap) swap(a, b int) {
	h.key[a], h.key[b] = h.key[b], h.key[a]
	h.idx[a], h.idx[b] = h.idx[b], h.idx[a]
	h.fresh[a], h.fresh[b] = h.fresh[b], h.fresh[a]
}

func (h *maxHeap) reset() { h.n = 0 }

func (h *maxHeap) contains(j int32) bool {
	for _, v := range h.idx[:h.n] {
		if v == j {
			return true
		}
	}
	return false
}

// push offers (key, j); it returns whether j entered the heap.
func (h *maxHeap) push(key float32, j int32) bool {
	c := len(h.key)
	if c == 0 {
		return false
	}
	if h.n < c {
		i := h.n
		h.n++
		h.key[i], h.idx[i], h.fresh[i] = key, j, true
		for i > 0 {
			p := (i - 1) / 2
			if h.key[p] >= h.key[i] {
				break
			}
			h.swap(p, i)
			i = p
		}
		return true
	}
	if key >= h.key[0] {
		return false
	}
	h.key[0], h.idx[0], h.fresh[0] = key, j, true
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < c && h.key[l] > h.key[m] {
			m = l
		}
		if r < c && h.key[r] > h.key[m] {
			m = r
		}
		if m == i {
			break
		}
		h.swap(m, i)
		i = m
	}
	return true
}

// NNDescent finds approximate k nearest neighbours by nearest-neighbour
// descent (Dong, Moses & Li 2011): start from random neighbours and
// repeatedly try the neighbours of neighbours (in both directions), until
// fewer than 0.1 % of the entries change. It is what umap-learn uses (via
// pynndescent) above a few thousand points. Each row's own index comes
// first; distances are exact for the neighbours found.
func NNDescent(ctx context.Context, x []float32, n, d, k int, seed uint64) (*KNN, error) {
	if k > n {
		k = n
	}
	c := k - 1 // neighbours besides self
	heaps := make([]*maxHeap, n)
	s := seed ^ 0x5eed
	for i := range heaps {
		h := newHeap(k)
		heaps[i] = h
		st := s + uint64(i)*0x9e3779b97f4a7c15
		for tries := 0; h.n < c && tries < 4*c+10; tries++ {
			j := int32(splitmix64(&st) % uint64(n))
			if int(j) == i || h.contains(j) {
				continue
			}
			h.push(float32(sqd(x, d, i, int(j))), j)
		}
	}
	locks := make([]atomic.Int32, n)
	lock := func(i int) {
		for !locks[i].CompareAndSwap(0, 1) {
		}
	}
	unlock := func(i int) { locks[i].Store(0) }
	for iter := 0; iter < 30; iter++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// candidate lists: forward and reverse neighbours, split new/old
		newC := make([][]int32, n)
		oldC := make([][]int32, n)
		for i := 0; i < n; i++ {
			h := heaps[i]
			for t := 0; t < h.n; t++ {
				j := h.idx[t]
				if h.fresh[t] {
					newC[i] = append(newC[i], j)
					newC[j] = append(newC[j], int32(i))
					h.fresh[t] = false
				} else {
					oldC[i] = append(oldC[i], j)
					oldC[j] = append(oldC[j], int32(i))
				}
			}
		}
		// cap the candidate lists (deterministically) to bound the work
		capList := func(l []int32, i int) []int32 {
			sort.Slice(l, func(a, b int) bool { return l[a] < l[b] })
			l = dedup(l)
			if len(l) > 2*c {
				st := seed + uint64(iter)*7919 + uint64(i)
				for t := len(l) - 1; t > 0; t-- { // partial shuffle
					u := int(splitmix64(&st) % uint64(t+1))
					l[t], l[u] = l[u], l[t]
				}
				l = l[:2*c]
			}
			return l
		}
		for i := 0; i < n; i++ {
			newC[i] = capList(newC[i], i)
			oldC[i] = capList(oldC[i], i)
		}
		var updates atomic.Int64
		try := func(p, q int32) {
			if p == q {
				return
			}
			dd := float32(sqd(x, d, int(p), int(q)))
			for _, e := range [2][2]int32{{p, q}, {q, p}} {
				a, b := int(e[0]), e[1]
				lock(a)
				h := heaps[a]
				if (h.n < c || dd < h.key[0]) && !h.contains(b) {
					h.push(dd, b)
					updates.Add(1)
				}
				unlock(a)
			}
		}
		parallel.ForChunks(n, 64, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				nw, ol := newC[i], oldC[i]
				for a := 0; a < len(nw); a++ {
					for b := a + 1; b < len(nw); b++ {
						try(nw[a], nw[b])
					}
					for _, q := range ol {
						try(nw[a], q)
					}
				}
			}
		})
		if float64(updates.Load()) < 0.001*float64(n*c) {
			break
		}
	}
	out := &KNN{N: n, K: k, Indices: make([]int32, n*k), Dists: make([]float32, n*k)}
	parallel.For(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			finishRow(out, x, d, i, heaps[i])
		}
	})
	return out, nil
}

func dedup(l []int32) []int32 {
	if len(l) == 0 {
		return l
	}
	w := 1
	for _, v := range l[1:] {
		if v != l[w-1] {
			l[w] = v
			w++
		}
	}
	return l[:w]
}

func sqd(x []float32, d, i, j int) float64 {
	a, b := x[i*d:(i+1)*d], x[j*d:(j+1)*d]
	var s float32
	for t := range a {
		v := a[t] - b[t]
		s += v * v
	}
	return float64(s)
}
