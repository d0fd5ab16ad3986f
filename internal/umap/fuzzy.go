package umap

import (
	"math"
	"sort"

	"github.com/metasurv/metasurv/internal/parallel"
)

// Graph is a sparse symmetric matrix of membership strengths in
// compressed-row form: the neighbours of i are Cols[Ptr[i]:Ptr[i+1]] with
// weights Vals[Ptr[i]:Ptr[i+1]], columns increasing.
type Graph struct {
	N    int
	Ptr  []int
	Cols []int32
	Vals []float32
}

// NNZ is the number of stored entries.
func (g *Graph) NNZ() int { return len(g.Cols) }

const (
	smoothKTolerance = 1e-5
	minKDistScale    = 1e-3
)

// SmoothKNNDist computes, for every row of the kNN graph, rho (the
// distance to the LocalConnectivity-th nearest neighbour, interpolated)
// and sigma such that Σ_j exp(−max(0, d_ij − rho)/sigma) = log2(k) over the
// neighbours other than the point itself — umap-learn's smooth_knn_dist
// with bandwidth 1: 64 bisection steps to 1e-5, and sigma at least 1e-3 of
// the row's (or, when rho is 0, the graph's) mean distance.
func SmoothKNNDist(knn *KNN, localConnectivity float64) (sigma, rho []float64) {
	n, k := knn.N, knn.K
	sigma, rho = make([]float64, n), make([]float64, n)
	target := math.Log2(float64(k))
	var meanAll float64
	for _, v := range knn.Dists {
		meanAll += float64(v)
	}
	meanAll /= float64(len(knn.Dists))
	parallel.For(n, func(lo, hi int) {
		nz := make([]float64, 0, k)
		for i := lo; i < hi; i++ {
			row := knn.Dists[i*k : (i+1)*k]
			nz = nz[:0]
			for _, v := range row {
				if v > 0 {
					nz = append(nz, float64(v))
				}
			}
			r := 0.0
			if len(nz) >= int(localConnectivity) {
				index := int(math.Floor(localConnectivity))
				interp := localConnectivity - float64(index)
				if index > 0 {
					r = nz[index-1]
					if interp > smoothKTolerance {
						r += interp * (nz[index] - nz[index-1])
					}
				} else {
					r = interp * nz[0]
				}
			} else if len(nz) > 0 {
				r = nz[len(nz)-1]
				for _, v := range nz {
					r = math.Max(r, v)
				}
			}
			lo, hi, mid := 0.0, math.Inf(1), 1.0
			for it := 0; it < 64; it++ {
				psum := 0.0
				for j := 1; j < k; j++ {
					d := float64(row[j]) - r
					if d > 0 {
						psum += math.Exp(-(d / mid))
					} else {
						psum += 1
					}
				}
				if math.Abs(psum-target) < smoothKTolerance {
					break
				}
				if psum > target {
					hi = mid
					mid = (lo + hi) / 2
				} else {
					lo = mid
					if math.IsInf(hi, 1) {
						mid *= 2
					} else {
						mid = (lo + hi) / 2
					}
				}
			}
			if r > 0 {
				var m float64
				for _, v := range row {
					m += float64(v)
				}
				m /= float64(k)
				mid = math.Max(mid, minKDistScale*m)
			} else {
				mid = math.Max(mid, minKDistScale*meanAll)
			}
			sigma[i], rho[i] = mid, r
		}
	})
	return sigma, rho
}

// FuzzyGraph builds UMAP's fuzzy simplicial set from a kNN graph: the
// directed memberships exp(−(d − rho_i)/sigma_i) (1 within rho, 0 to
// itself) combined by the fuzzy union A + Aᵀ − A∘Aᵀ.
func FuzzyGraph(knn *KNN, localConnectivity float64) *Graph {
	n, k := knn.N, knn.K
	sigma, rho := SmoothKNNDist(knn, localConnectivity)
	type entry struct {
		i, j int32
		w    float32
		dir  int8 // 0: i→j as computed, 1: transposed
	}
	es := make([]entry, 0, 2*n*k)
	for i := 0; i < n; i++ {
		for t := 0; t < k; t++ {
			j := knn.Indices[i*k+t]
			if int(j) == i {
				continue
			}
			d := float64(knn.Dists[i*k+t])
			var w float64
			if d-rho[i] <= 0 || sigma[i] == 0 {
				w = 1
			} else {
				w = math.Exp(-(d - rho[i]) / sigma[i])
			}
			es = append(es, entry{int32(i), j, float32(w), 0}, entry{j, int32(i), float32(w), 1})
		}
	}
	sort.Slice(es, func(a, b int) bool {
		if es[a].i != es[b].i {
			return es[a].i < es[b].i
		}
		if es[a].j != es[b].j {
			return es[a].j < es[b].j
		}
		return es[a].dir < es[b].dir
	})
	g := &Graph{N: n, Ptr: make([]int, n+1)}
	for s := 0; s < len(es); {
		e := es[s]
		var fwd, bwd float64
		t := s
		for ; t < len(es) && es[t].i == e.i && es[t].j == e.j; t++ {
			if es[t].dir == 0 {
				fwd = float64(es[t].w)
			} else {
				bwd = float64(es[t].w)
			}
		}
		s = t
		w := fwd + bwd - fwd*bwd
		if w == 0 {
			continue
		}
		g.Cols = append(g.Cols, e.j)
		g.Vals = append(g.Vals, float32(w))
		g.Ptr[e.i+1]++
	}
	for i := 0; i < n; i++ {
		g.Ptr[i+1] += g.Ptr[i]
	}
	return g
}
