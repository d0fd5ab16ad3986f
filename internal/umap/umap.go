package umap

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// Errors a caller can branch on.
var (
	// ErrInput is returned for data of the wrong size or with non-finite
	// values.
	ErrInput = errors.New("umap: invalid input")
	// ErrOptions is returned for out-of-range options.
	ErrOptions = errors.New("umap: invalid options")
)

// Init selects the initial layout.
type Init int

const (
	// Spectral starts from the eigenvectors of the normalised Laplacian of
	// the fuzzy graph (umap-learn's default).
	Spectral Init = iota
	// Random starts from points uniform in [−10, 10]^d.
	Random
)

// Options configure Fit. The zero value is umap-learn 0.5.3's default:
// 15 neighbours, 2 components, min_dist 0.1, spread 1, 500 epochs below
// 10,000 points and 200 above, learning rate 1, 5 negative samples per
// positive one, spectral initialisation.
type Options struct {
	Neighbors  int     // size of the local neighbourhood (zero: 15)
	Components int     // output dimension (zero: 2)
	MinDist    float64 // minimum distance of embedded points (zero: 0.1; negative: 0)
	Spread     float64 // scale of embedded points (zero: 1)
	Epochs     int     // optimisation epochs (zero: 500 for n ≤ 10,000, else 200)
	// LearningRate is the initial SGD step (zero: 1).
	LearningRate float64
	// NegativeSampleRate is the number of negative samples per positive
	// sample (zero: 5).
	NegativeSampleRate int
	// RepulsionStrength weights negative samples (zero: 1).
	RepulsionStrength float64
	// LocalConnectivity is the number of nearest neighbours assumed
	// connected at full strength (zero: 1).
	LocalConnectivity float64
	Init              Init
	// Seed makes the layout reproducible: the same data and options give
	// the same embedding whatever the number of threads (up to ExactLimit
	// points; NN-descent's parallel updates may order ties differently).
	Seed uint64
	// ExactLimit is the largest n for which neighbours are found exactly
	// (zero: 20,000); above it NN-descent is used.
	ExactLimit int
	// Progress, if set, is called with a stage name and the fraction of
	// that stage done.
	Progress func(stage string, fraction float64)
}

func (o *Options) defaults(n int) error {
	if o.Neighbors == 0 {
		o.Neighbors = 15
	}
	if o.Components == 0 {
		o.Components = 2
	}
	if o.MinDist == 0 {
		o.MinDist = 0.1
	} else if o.MinDist < 0 {
		o.MinDist = 0
	}
	if o.Spread == 0 {
		o.Spread = 1
	}
	if o.Epochs == 0 {
		o.Epochs = 500
		if n > 10000 {
			o.Epochs = 200
		}
	}
	if o.LearningRate == 0 {
		o.LearningRate = 1
	}
	if o.NegativeSampleRate == 0 {
		o.NegativeSampleRate = 5
	}
	if o.RepulsionStrength == 0 {
		o.RepulsionStrength = 1
	}
	if o.LocalConnectivity == 0 {
		o.LocalConnectivity = 1
	}
	if o.ExactLimit == 0 {
		o.ExactLimit = 20000
	}
	switch {
	case o.Neighbors < 2:
		return fmt.Errorf("%w: %d neighbours, want at least 2", ErrOptions, o.Neighbors)
	case o.Components < 1 || o.Components > 100:
		return fmt.Errorf("%w: %d components, want 1 to 100", ErrOptions, o.Components)
	case !(o.Spread > 0) || o.MinDist > o.Spread || math.IsNaN(o.MinDist):
		return fmt.Errorf("%w: min_dist %g and spread %g, want 0 ≤ min_dist ≤ spread", ErrOptions, o.MinDist, o.Spread)
	case o.Epochs < 1 || o.LearningRate < 0 || o.NegativeSampleRate < 0 || o.RepulsionStrength < 0:
		return fmt.Errorf("%w: epochs %d, learning rate %g, negative rate %d, repulsion %g", ErrOptions, o.Epochs, o.LearningRate, o.NegativeSampleRate, o.RepulsionStrength)
	case !(o.LocalConnectivity >= 0):
		return fmt.Errorf("%w: local connectivity %g", ErrOptions, o.LocalConnectivity)
	case o.Init != Spectral && o.Init != Random:
		return fmt.Errorf("%w: init %d", ErrOptions, o.Init)
	}
	return nil
}

// Result is a fitted embedding.
type Result struct {
	// Embedding holds n rows of Components coordinates, row-major.
	Embedding []float32
	N, Dim    int
	// A and B are the parameters of the embedded-distance curve
	// 1/(1+a·d^(2b)) fitted from MinDist and Spread.
	A, B float64
	// Graph is the symmetric fuzzy simplicial set (before pruning).
	Graph *Graph
	// Components is the number of connected components of the graph.
	ConnectedComponents int
}

// Fit embeds the n×d row-major data x (Euclidean metric) with UMAP
// (McInnes, Healy & Melville 2018, arXiv:1802.03426), following umap-learn
// 0.5.3 step for step: the k-nearest-neighbour graph, smooth-kNN
// distances and the fuzzy union, spectral initialisation scaled to
// [0, 10], and SGD with negative sampling on the curve fitted from
// MinDist and Spread. Unlike umap-learn's sequential optimiser, each
// epoch updates the points in parallel against the positions at the start
// of the epoch, so the result depends on the seed but not on the number of
// threads.
func Fit(ctx context.Context, x []float32, n, d int, o Options) (*Result, error) {
	if n < 2 || d < 1 || len(x) != n*d {
		return nil, fmt.Errorf("%w: %d values for %d×%d", ErrInput, len(x), n, d)
	}
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%w: value %g at row %d, column %d", ErrInput, v, i/d, i%d)
		}
	}
	if err := o.defaults(n); err != nil {
		return nil, err
	}
	k := o.Neighbors
	if k > n {
		k = n
	}
	progress := func(stage string, f float64) {
		if o.Progress != nil {
			o.Progress(stage, f)
		}
	}
	progress("neighbours", 0)
	var knn *KNN
	var err error
	if n <= o.ExactLimit {
		knn, err = ExactKNN(ctx, x, n, d, k)
	} else {
		knn, err = NNDescent(ctx, x, n, d, k, o.Seed)
	}
	if err != nil {
		return nil, err
	}
	progress("neighbours", 1)
	g := FuzzyGraph(knn, o.LocalConnectivity)
	a, b, err := FitAB(o.Spread, o.MinDist)
	if err != nil {
		return nil, err
	}
	res := &Result{N: n, Dim: o.Components, A: a, B: b, Graph: g}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	progress("initialisation", 0)
	emb, ncomp := initialLayout(x, n, d, g, o)
	res.ConnectedComponents = ncomp
	progress("initialisation", 1)
	if err := optimize(ctx, emb, g, a, b, o); err != nil {
		return nil, err
	}
	res.Embedding = emb
	return res, nil
}

// splitmix64 is the seed expander used for every random stream.
func splitmix64(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
