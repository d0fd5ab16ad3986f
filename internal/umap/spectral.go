package umap

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/metasurv/metasurv/internal/parallel"
	"gonum.org/v1/gonum/mat"
)

// components labels the connected components of g (labels 0..count−1, in
// order of their smallest vertex).
func components(g *Graph) (label []int, count int) {
	label = make([]int, g.N)
	for i := range label {
		label[i] = -1
	}
	stack := []int{}
	for s := 0; s < g.N; s++ {
		if label[s] >= 0 {
			continue
		}
		label[s] = count
		stack = append(stack[:0], s)
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, u := range g.Cols[g.Ptr[v]:g.Ptr[v+1]] {
				if label[u] < 0 {
					label[u] = count
					stack = append(stack, int(u))
				}
			}
		}
		count++
	}
	return label, count
}

// initialLayout returns the starting embedding (n×dim, scaled to [0, 10]
// per axis as umap-learn does before optimising) and the number of
// connected components of the graph.
func initialLayout(x []float32, n, d int, g *Graph, o Options) ([]float32, int) {
	dim := o.Components
	st := o.Seed ^ 0x1217
	rng := rand.New(rand.NewPCG(splitmix64(&st), splitmix64(&st)))
	emb := make([]float64, n*dim)
	label, ncomp := components(g)
	if o.Init == Random {
		for i := range emb {
			emb[i] = -10 + 20*rng.Float64()
		}
	} else {
		if ncomp == 1 {
			spectralInto(g, nil, dim, rng, emb)
		} else {
			multiComponent(x, d, g, label, ncomp, dim, rng, emb)
		}
		maxAbs := 0.0
		for _, v := range emb {
			maxAbs = math.Max(maxAbs, math.Abs(v))
		}
		if maxAbs == 0 || math.IsNaN(maxAbs) {
			for i := range emb {
				emb[i] = -10 + 20*rng.Float64()
			}
		} else {
			e := 10 / maxAbs
			for i := range emb {
				emb[i] = emb[i]*e + 0.0001*rng.NormFloat64()
			}
		}
	}
	out := make([]float32, n*dim)
	for c := 0; c < dim; c++ {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := 0; i < n; i++ {
			lo, hi = math.Min(lo, emb[i*dim+c]), math.Max(hi, emb[i*dim+c])
		}
		span := hi - lo
		if span == 0 {
			span = 1
		}
		for i := 0; i < n; i++ {
			out[i*dim+c] = float32(10 * (emb[i*dim+c] - lo) / span)
		}
	}
	return out, ncomp
}

// multiComponent lays each component out spectrally around a meta position:
// ±unit vectors when there are few components (as umap-learn), otherwise
// the components' data centroids projected on their principal axes.
func multiComponent(x []float32, d int, g *Graph, label []int, ncomp, dim int, rng *rand.Rand, emb []float64) {
	meta := make([][]float64, ncomp)
	if ncomp <= 2*dim {
		for c := range meta {
			meta[c] = make([]float64, dim)
			s := 1.0
			if c%2 == 1 {
				s = -1
			}
			meta[c][c/2] = s
		}
	} else {
		meta = centroidLayout(x, d, label, ncomp, dim)
	}
	// half the distance to the nearest other component bounds each layout
	for c := 0; c < ncomp; c++ {
		near := math.Inf(1)
		for o := 0; o < ncomp; o++ {
			if o != c {
				var s float64
				for t := 0; t < dim; t++ {
					v := meta[c][t] - meta[o][t]
					s += v * v
				}
				near = math.Min(near, math.Sqrt(s))
			}
		}
		if math.IsInf(near, 1) || near == 0 {
			near = 1
		}
		var members []int
		for i, l := range label {
			if l == c {
				members = append(members, i)
			}
		}
		local := make([]float64, len(members)*dim)
		if len(members) > 2*dim+1 {
			sub := subgraph(g, members)
			spectralInto(sub, nil, dim, rng, local)
		} else {
			for i := range local {
				local[i] = rng.Float64()*2 - 1
			}
		}
		maxAbs := 0.0
		for _, v := range local {
			maxAbs = math.Max(maxAbs, math.Abs(v))
		}
		if maxAbs == 0 {
			maxAbs = 1
		}
		for a, i := range members {
			for t := 0; t < dim; t++ {
				emb[i*dim+t] = meta[c][t] + local[a*dim+t]/maxAbs*near/2
			}
		}
	}
}

func centroidLayout(x []float32, d int, label []int, ncomp, dim int) [][]float64 {
	cent := make([][]float64, ncomp)
	cnt := make([]float64, ncomp)
	for c := range cent {
		cent[c] = make([]float64, d)
	}
	for i, l := range label {
		cnt[l]++
		for t := 0; t < d; t++ {
			cent[l][t] += float64(x[i*d+t])
		}
	}
	m := mat.NewDense(ncomp, d, nil)
	mean := make([]float64, d)
	for c := range cent {
		for t := range cent[c] {
			cent[c][t] /= cnt[c]
			mean[t] += cent[c][t] / float64(ncomp)
		}
	}
	for c := range cent {
		for t := range cent[c] {
			m.Set(c, t, cent[c][t]-mean[t])
		}
	}
	var svd mat.SVD
	meta := make([][]float64, ncomp)
	for c := range meta {
		meta[c] = make([]float64, dim)
	}
	if !svd.Factorize(m, mat.SVDThin) {
		for c := range meta {
			meta[c][0] = float64(c)
		}
		return meta
	}
	var u mat.Dense
	svd.UTo(&u)
	_, uc := u.Dims()
	maxAbs := 0.0
	for c := range meta {
		for t := 0; t < dim && t < uc; t++ {
			meta[c][t] = u.At(c, t) * svd.Values(nil)[t]
			maxAbs = math.Max(maxAbs, math.Abs(meta[c][t]))
		}
	}
	if maxAbs > 0 {
		for c := range meta {
			for t := range meta[c] {
				meta[c][t] /= maxAbs
			}
		}
	}
	return meta
}

func subgraph(g *Graph, members []int) *Graph {
	pos := make(map[int32]int32, len(members))
	for a, i := range members {
		pos[int32(i)] = int32(a)
	}
	s := &Graph{N: len(members), Ptr: make([]int, len(members)+1)}
	for a, i := range members {
		for p := g.Ptr[i]; p < g.Ptr[i+1]; p++ {
			if b, ok := pos[g.Cols[p]]; ok {
				s.Cols = append(s.Cols, b)
				s.Vals = append(s.Vals, g.Vals[p])
			}
		}
		s.Ptr[a+1] = len(s.Cols)
	}
	return s
}

// spectralInto writes into emb (n×dim) the eigenvectors 2..dim+1 of the
// symmetric normalised Laplacian I − D^−½ W D^−½ of a connected graph
// (those of the smallest eigenvalues after the trivial one), found as the
// largest eigenvectors of D^−½ W D^−½ by Lanczos iteration with full
// reorthogonalisation. It is what umap-learn's spectral_layout asks of
// ARPACK (eigsh, which="SM").
func spectralInto(g *Graph, _ []float64, dim int, rng *rand.Rand, emb []float64) {
	n := g.N
	want := dim + 1
	if n <= want {
		for i := range emb {
			emb[i] = rng.Float64()
		}
		return
	}
	dinv := make([]float64, n)
	for i := 0; i < n; i++ {
		var s float64
		for _, v := range g.Vals[g.Ptr[i]:g.Ptr[i+1]] {
			s += float64(v)
		}
		if s > 0 {
			dinv[i] = 1 / math.Sqrt(s)
		}
	}
	apply := func(v, out []float64) { // out = D^−½ W D^−½ v
		parallel.For(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				var s float64
				for p := g.Ptr[i]; p < g.Ptr[i+1]; p++ {
					j := g.Cols[p]
					s += float64(g.Vals[p]) * dinv[j] * v[j]
				}
				out[i] = dinv[i] * s
			}
		})
	}
	m := int(math.Max(float64(2*want+1), math.Sqrt(float64(n))*2))
	m = max(m, 40)
	m = min(m, n)
	vecs, vals := lanczos(apply, n, m, want, rng)
	_ = vals
	for i := 0; i < n; i++ {
		for t := 0; t < dim; t++ {
			emb[i*dim+t] = vecs[t+1][i]
		}
	}
}

// lanczos returns the `want` eigenvectors of the largest eigenvalues of
// the symmetric operator apply (size n), from m Lanczos steps with full
// reorthogonalisation, restarted from the best Ritz vectors until their
// residuals are below 1e-4 or 8 restarts.
func lanczos(apply func(v, out []float64), n, m, want int, rng *rand.Rand) ([][]float64, []float64) {
	v0 := make([]float64, n)
	for i := range v0 {
		v0[i] = rng.NormFloat64()
	}
	var ritz [][]float64
	var theta []float64
	locked := [][]float64{} // converged vectors kept orthogonal to
	for restart := 0; restart < 8; restart++ {
		V := make([][]float64, 0, m)
		alpha := make([]float64, 0, m)
		beta := make([]float64, 0, m)
		q := append([]float64(nil), v0...)
		orth(q, locked)
		normalize(q)
		w := make([]float64, n)
		for j := 0; j < m-len(locked); j++ {
			V = append(V, q)
			apply(q, w)
			a := dot(w, q)
			alpha = append(alpha, a)
			// full reorthogonalisation against the basis and locked vectors
			for pass := 0; pass < 2; pass++ {
				orth(w, locked)
				orth(w, V)
			}
			b := math.Sqrt(dot(w, w))
			if b < 1e-10 || j == m-len(locked)-1 {
				break
			}
			beta = append(beta, b)
			q = make([]float64, n)
			for i := range q {
				q[i] = w[i] / b
			}
		}
		k := len(alpha)
		T := mat.NewSymDense(k, nil)
		for i := 0; i < k; i++ {
			T.SetSym(i, i, alpha[i])
			if i+1 < k {
				T.SetSym(i, i+1, beta[i])
			}
		}
		var es mat.EigenSym
		if !es.Factorize(T, true) {
			break
		}
		ev := es.Values(nil)
		var S mat.Dense
		es.VectorsTo(&S)
		order := make([]int, k)
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return ev[order[a]] > ev[order[b]] })
		need := want - len(locked)
		if need > k {
			need = k
		}
		ritz = ritz[:0]
		theta = theta[:0]
		maxRes := 0.0
		next := make([]float64, n)
		for r := 0; r < need; r++ {
			c := order[r]
			y := make([]float64, n)
			for j := 0; j < k; j++ {
				s := S.At(j, c)
				for i := range y {
					y[i] += s * V[j][i]
				}
			}
			normalize(y)
			apply(y, w)
			var res float64
			for i := range w {
				e := w[i] - ev[c]*y[i]
				res += e * e
			}
			maxRes = math.Max(maxRes, math.Sqrt(res))
			ritz = append(ritz, y)
			theta = append(theta, ev[c])
			for i := range next {
				next[i] += y[i]
			}
		}
		if maxRes < 1e-4 || restart == 7 {
			break
		}
		v0 = next
	}
	out := append(append([][]float64{}, locked...), ritz...)
	return out, theta
}

func orth(w []float64, basis [][]float64) {
	for _, b := range basis {
		c := dot(w, b)
		for i := range w {
			w[i] -= c * b[i]
		}
	}
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func normalize(v []float64) {
	s := math.Sqrt(dot(v, v))
	if s == 0 {
		return
	}
	for i := range v {
		v[i] /= s
	}
}
