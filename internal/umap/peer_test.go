package umap

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/metasurv/metasurv/internal/parallel"
)

// TestPeerSpeed10000x64 times umap-learn (through testdata/umaplearn.py,
// numba functions compiled before timing) and this package on the same
// 10,000 × 64 Gaussian mixture, alternating which side runs first, and
// logs the times and the trustworthiness (k = 15) of both embeddings. It
// needs /usr/bin/python3 with umap-learn and runs only with
// METASURV_UMAP_PEER=1.
func TestPeerSpeed10000x64(t *testing.T) {
	if os.Getenv("METASURV_UMAP_PEER") == "" {
		t.Skip("set METASURV_UMAP_PEER=1 to time umap-learn against this package")
	}
	const n, d, seed = 10000, 64, 5
	x := mixture(n, d, 10, seed)
	script, _ := filepath.Abs(filepath.Join("testdata", "umaplearn.py"))
	peer := func() (float64, []float32) {
		out, err := exec.Command("/usr/bin/python3", script, "bench", "10000", "64", "5").Output()
		if err != nil {
			t.Fatalf("umap-learn: %v", err)
		}
		var r struct {
			Seconds   float64
			Embedding []float64
		}
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatal(err)
		}
		e := make([]float32, len(r.Embedding))
		for i, v := range r.Embedding {
			e[i] = float32(v)
		}
		return r.Seconds, e
	}
	ours := func(workers int) (float64, []float32) {
		if workers > 0 {
			defer parallel.SetMaxWorkers(workers)()
		}
		start := time.Now()
		res, err := Fit(context.Background(), x, n, d, Options{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		return time.Since(start).Seconds(), res.Embedding
	}
	for round := 0; round < 2; round++ {
		var tp, to, to1 float64
		var ep, eo []float32
		if round%2 == 0 {
			tp, ep = peer()
			to, eo = ours(0)
			to1, _ = ours(1)
		} else {
			to1, _ = ours(1)
			to, eo = ours(0)
			tp, ep = peer()
		}
		trP, _ := Trustworthiness(x, d, ep, 2, 15)
		trO, _ := Trustworthiness(x, d, eo, 2, 15)
		t.Logf("round %d: umap-learn %.2f s (T=%.4f); ours %.2f s with %d workers (T=%.4f), %.2f s with 1; ratio ours/umap-learn %.2f (%d workers), %.2f (1 worker)",
			round, tp, trP, to, parallel.Workers(), trO, to1, to/tp, parallel.Workers(), to1/tp)
	}
}
