package umap

import (
	"context"

	"github.com/metasurv/metasurv/internal/parallel"
)

// optimize runs UMAP's stochastic gradient descent on emb (n×dim) with the
// edges of g, as umap-learn's optimize_layout_euclidean: each edge is
// sampled in proportion to its weight (edges below max/epochs dropped),
// attracted with the gradient of log(1/(1+a d^2b)), and followed by
// NegativeSampleRate repulsive samples of random points, every gradient
// clipped to ±4 and the learning rate decaying linearly to 0.
//
// Points are updated in parallel within an epoch: a point moves by its own
// edges against the positions every other point had at the start of the
// epoch (and, since the graph is symmetric, by twice the attractive step
// umap-learn applies to each end of an edge), with its own random stream.
// The result is therefore the same for any number of threads.
func optimize(ctx context.Context, emb []float32, g *Graph, a, b float64, o Options) error {
	n, dim := g.N, o.Components
	epochs := o.Epochs
	var wmax float32
	for _, v := range g.Vals {
		wmax = max(wmax, v)
	}
	eps := make([]float64, len(g.Vals)) // epochs per sample; −1: never
	thresh := wmax / float32(epochs)
	for p, v := range g.Vals {
		if v < thresh || v == 0 {
			eps[p] = -1
			continue
		}
		eps[p] = float64(wmax) / float64(v) // = epochs / (epochs·w/wmax)
	}
	negRate := float64(o.NegativeSampleRate)
	nextSample := make([]float64, len(eps))
	nextNeg := make([]float64, len(eps))
	for p, e := range eps {
		nextSample[p] = e
		if negRate > 0 {
			nextNeg[p] = e / negRate
		}
	}
	rngs := make([]uint64, n)
	st := o.Seed ^ 0xa5a5
	for i := range rngs {
		rngs[i] = splitmix64(&st)
	}
	snap := make([]float32, len(emb))
	gamma := o.RepulsionStrength
	clip := func(v float64) float64 {
		if v > 4 {
			return 4
		}
		if v < -4 {
			return -4
		}
		return v
	}
	for ep := 0; ep < epochs; ep++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if o.Progress != nil && ep%10 == 0 {
			o.Progress("layout", float64(ep)/float64(epochs))
		}
		copy(snap, emb)
		alpha := o.LearningRate * (1 - float64(ep)/float64(epochs))
		fe := float64(ep)
		parallel.ForChunks(n, 64, func(lo, hi int) {
			c := make([]float64, dim)
			ot := make([]float64, dim)
			for j := lo; j < hi; j++ {
				for t := 0; t < dim; t++ {
					c[t] = float64(emb[j*dim+t])
				}
				rs := &rngs[j]
				for p := g.Ptr[j]; p < g.Ptr[j+1]; p++ {
					if eps[p] < 0 || nextSample[p] > fe {
						continue
					}
					k := int(g.Cols[p])
					var d2 float64
					for t := 0; t < dim; t++ {
						ot[t] = float64(snap[k*dim+t])
						v := c[t] - ot[t]
						d2 += v * v
					}
					if d2 > 0 {
						pw := pow(d2, b-1)
						coef := -2 * a * b * pw / (a*pw*d2 + 1)
						for t := 0; t < dim; t++ {
							c[t] += 2 * clip(coef*(c[t]-ot[t])) * alpha
						}
					}
					nextSample[p] += eps[p]
					if negRate == 0 {
						continue
					}
					epn := eps[p] / negRate
					nneg := int((fe - nextNeg[p]) / epn)
					for q := 0; q < nneg; q++ {
						*rs ^= *rs << 13
						*rs ^= *rs >> 7
						*rs ^= *rs << 17
						kk := int(*rs % uint64(n))
						if kk == j {
							continue
						}
						var d2 float64
						for t := 0; t < dim; t++ {
							ot[t] = float64(snap[kk*dim+t])
							v := c[t] - ot[t]
							d2 += v * v
						}
						if d2 > 0 {
							coef := 2 * gamma * b / ((0.001 + d2) * (a*pow(d2, b) + 1))
							for t := 0; t < dim; t++ {
								c[t] += clip(coef*(c[t]-ot[t])) * alpha
							}
						} else {
							for t := 0; t < dim; t++ {
								c[t] += 4 * alpha
							}
						}
					}
					nextNeg[p] += float64(nneg) * epn
				}
				for t := 0; t < dim; t++ {
					emb[j*dim+t] = float32(c[t])
				}
			}
		})
	}
	if o.Progress != nil {
		o.Progress("layout", 1)
	}
	return nil
}
