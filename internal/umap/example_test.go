package umap_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/metasurv/metasurv/internal/umap"
)

// Two well-separated clouds in 10 dimensions stay separated in 2-D.
func Example() {
	rng := rand.New(rand.NewPCG(1, 2))
	n, d := 200, 10
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
		if (i/d)%2 == 1 {
			x[i] += 6
		}
	}
	res, err := umap.Fit(context.Background(), x, n, d, umap.Options{Seed: 1, Epochs: 100})
	if err != nil {
		panic(err)
	}
	t, _ := umap.Trustworthiness(x, d, res.Embedding, 2, 5)
	fmt.Printf("%d×%d embedding, trustworthiness above 0.9: %v\n", res.N, res.Dim, t > 0.9)
	// Output: 200×2 embedding, trustworthiness above 0.9: true
}
