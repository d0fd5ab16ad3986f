package umap

import (
	"fmt"
	"math"
	"sort"

	"github.com/metasurv/metasurv/internal/parallel"
)

// Trustworthiness measures how far the k nearest neighbours of each point
// in the embedding y (n×dy) are from being its neighbours in the data x
// (n×dx), as scikit-learn's sklearn.manifold.trustworthiness with the
// Euclidean metric (Venna & Kaski 2001):
//
//	T(k) = 1 − 2/(n·k·(2n − 3k − 1)) · Σ_i Σ_{j ∈ U_k(i)} max(0, r(i, j) − k)
//
// where U_k(i) are the embedded neighbours of i and r(i, j) the rank of j
// among i's neighbours in the data (1 for the nearest). Distances are
// computed in float64; ties in the data are ranked by index. k must be
// below n/2.
func Trustworthiness(x []float32, dx int, y []float32, dy int, k int) (float64, error) {
	if dx < 1 || dy < 1 || len(x)%dx != 0 || len(y)%dy != 0 || len(x)/dx != len(y)/dy {
		return 0, fmt.Errorf("%w: data %d values of dim %d, embedding %d values of dim %d", ErrInput, len(x), dx, len(y), dy)
	}
	n := len(x) / dx
	if k < 1 || float64(k) >= float64(n)/2 {
		return 0, fmt.Errorf("%w: k = %d neighbours for %d points, want 1 ≤ k < n/2", ErrInput, k, n)
	}
	sums := make([]float64, n)
	parallel.ForChunks(n, 16, func(lo, hi int) {
		dX := make([]float64, n)
		type nd struct {
			d float64
			j int
		}
		emb := make([]nd, 0, n)
		for i := lo; i < hi; i++ {
			xi := x[i*dx : (i+1)*dx]
			emb = emb[:0]
			for j := 0; j < n; j++ {
				var s float64
				xj := x[j*dx : (j+1)*dx]
				for t := range xi {
					v := float64(xi[t]) - float64(xj[t])
					s += v * v
				}
				dX[j] = s
				if j == i {
					continue
				}
				var e float64
				for t := 0; t < dy; t++ {
					v := float64(y[i*dy+t]) - float64(y[j*dy+t])
					e += v * v
				}
				emb = append(emb, nd{e, j})
			}
			sort.Slice(emb, func(a, b int) bool {
				if emb[a].d != emb[b].d {
					return emb[a].d < emb[b].d
				}
				return emb[a].j < emb[b].j
			})
			var s float64
			for _, e := range emb[:k] {
				j := e.j
				r := 1
				for l := 0; l < n; l++ {
					if l == i || l == j {
						continue
					}
					if dX[l] < dX[j] || (dX[l] == dX[j] && l < j) {
						r++
					}
				}
				if r > k {
					s += float64(r - k)
				}
			}
			sums[i] = s
		}
	})
	var t float64
	for _, s := range sums {
		t += s
	}
	fn, fk := float64(n), float64(k)
	return 1 - t*(2/(fn*fk*(2*fn-3*fk-1))), nil
}

var _ = math.Inf
