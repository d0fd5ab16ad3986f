package umap

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/internal/npy"
	"github.com/metasurv/metasurv/internal/parallel"
)

// fixture is testdata/umaplearn.json, written by testdata/umaplearn.py
// from umap-learn 0.5.3 and scikit-learn 1.2.1.
type fixture struct {
	UmapLearn string `json:"umap_learn"`
	AB        []struct {
		Spread  float64 `json:"spread"`
		MinDist float64 `json:"min_dist"`
		A, B    float64
	} `json:"ab"`
	TrustSmall struct {
		SeedX uint64             `json:"seed_x"`
		SeedY uint64             `json:"seed_y"`
		N     int                `json:"n"`
		K     map[string]float64 `json:"k"`
	} `json:"trust_small"`
	Fuzzy struct {
		N, D, Clusters, K int
		Seed              uint64
		Sigma, Rho        []float64
		RowSums           []float64 `json:"row_sums"`
		NNZ               int
	} `json:"fuzzy"`
	Fit map[string]struct {
		Trust   map[string][]float64 `json:"trust"`
		Seconds []float64            `json:"seconds"`
	} `json:"fit"`
}

func loadFixture(t testing.TB) *fixture {
	b, err := os.ReadFile(filepath.Join("testdata", "umaplearn.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

// mixture is the Gaussian mixture of testdata/umaplearn.py: the same
// splitmix64 stream, uniform and Box–Muller normal, so both sides see the
// same float32 data.
func mixture(n, d, clusters int, seed uint64) []float32 {
	st := seed
	uni := func() float64 { return float64(splitmix64(&st)>>11) * (1.0 / (1 << 53)) }
	normal := func() float64 {
		u1, u2 := uni(), uni()
		return math.Sqrt(-2*math.Log(1-u1)) * math.Cos(2*math.Pi*u2)
	}
	centres := make([][]float64, clusters)
	for c := range centres {
		centres[c] = make([]float64, d)
		for t := range centres[c] {
			centres[c][t] = normal()
		}
	}
	x := make([]float32, n*d)
	for i := 0; i < n; i++ {
		c := i % clusters
		s := 0.7 + 0.06*float64(c)
		for t := 0; t < d; t++ {
			x[i*d+t] = float32(centres[c][t] + s*normal())
		}
	}
	return x
}

func digits(t testing.TB) ([]float32, int, int) {
	f, err := os.Open(filepath.Join("testdata", "digits.npy.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	a, err := npy.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	v, err := a.Float32()
	if err != nil {
		t.Fatal(err)
	}
	return v, a.Shape[0], a.Shape[1]
}

func TestFitABMatchesUmapLearn(t *testing.T) {
	for _, c := range loadFixture(t).AB {
		a, b, err := FitAB(c.Spread, c.MinDist)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(a-c.A) > 1e-4*c.A || math.Abs(b-c.B) > 1e-4*c.B {
			t.Errorf("spread %g min_dist %g: a, b = %.6f, %.6f, umap-learn %.6f, %.6f", c.Spread, c.MinDist, a, b, c.A, c.B)
		}
	}
	if _, _, err := FitAB(1, 2); err == nil {
		t.Error("min_dist > spread accepted")
	}
}

func TestTrustworthinessMatchesSklearn(t *testing.T) {
	f := loadFixture(t).TrustSmall
	x := mixture(f.N, 5, 3, f.SeedX)
	y := mixture(f.N, 2, 3, f.SeedY)
	for ks, want := range f.K {
		var k int
		json.Unmarshal([]byte(ks), &k)
		got, err := Trustworthiness(x, 5, y, 2, k)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("k=%d: trustworthiness %.15f, sklearn %.15f", k, got, want)
		}
	}
	// the data itself is a perfect embedding
	if tr, _ := Trustworthiness(x, 5, x, 5, 5); tr != 1 {
		t.Errorf("identity embedding has trustworthiness %g", tr)
	}
	if _, err := Trustworthiness(x, 5, y, 2, 30); err == nil {
		t.Error("k = n/2 accepted")
	}
	if _, err := Trustworthiness(x, 5, y[:10], 2, 3); err == nil {
		t.Error("mismatched sizes accepted")
	}
}

// TestFuzzyGraphMatchesUmapLearn compares sigma, rho and the fuzzy union's
// row sums with umap-learn's smooth_knn_dist and fuzzy_simplicial_set on
// the same exact neighbours.
func TestFuzzyGraphMatchesUmapLearn(t *testing.T) {
	f := loadFixture(t).Fuzzy
	x := mixture(f.N, f.D, f.Clusters, f.Seed)
	knn, err := ExactKNN(context.Background(), x, f.N, f.D, f.K)
	if err != nil {
		t.Fatal(err)
	}
	sigma, rho := SmoothKNNDist(knn, 1)
	for i := range sigma {
		if math.Abs(sigma[i]-f.Sigma[i]) > 1e-4*f.Sigma[i] || math.Abs(rho[i]-f.Rho[i]) > 1e-5*(1+f.Rho[i]) {
			t.Fatalf("point %d: sigma %g rho %g, umap-learn %g %g", i, sigma[i], rho[i], f.Sigma[i], f.Rho[i])
		}
	}
	g := FuzzyGraph(knn, 1)
	if g.NNZ() != f.NNZ {
		t.Errorf("graph has %d entries, umap-learn %d", g.NNZ(), f.NNZ)
	}
	for i := 0; i < g.N; i++ {
		var s float64
		for p := g.Ptr[i]; p < g.Ptr[i+1]; p++ {
			s += float64(g.Vals[p])
			if int(g.Cols[p]) == i {
				t.Fatalf("self loop at %d", i)
			}
		}
		if math.Abs(s-f.RowSums[i]) > 1e-4*f.RowSums[i] {
			t.Fatalf("row %d sums to %g, umap-learn %g", i, s, f.RowSums[i])
		}
	}
}

func TestExactKNNAgainstBruteForce(t *testing.T) {
	n, d, k := 300, 7, 10
	x := mixture(n, d, 3, 5)
	knn, err := ExactKNN(context.Background(), x, n, d, k)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if knn.Indices[i*k] != int32(i) || knn.Dists[i*k] != 0 {
			t.Fatalf("row %d does not start with itself", i)
		}
		// the k-th distance bounds every point not listed
		kth := float64(knn.Dists[i*k+k-1])
		listed := map[int32]bool{}
		for _, j := range knn.Indices[i*k : (i+1)*k] {
			listed[j] = true
		}
		for j := 0; j < n; j++ {
			if !listed[int32(j)] && dist64(x[i*d:(i+1)*d], x[j*d:(j+1)*d]) < kth-1e-5 {
				t.Fatalf("row %d misses point %d closer than its k-th neighbour", i, j)
			}
		}
	}
}

// TestNNDescentRecall checks NN-descent against exact neighbours.
func TestNNDescentRecall(t *testing.T) {
	n, d, k := 3000, 16, 15
	x := mixture(n, d, 10, 3)
	ex, _ := ExactKNN(context.Background(), x, n, d, k)
	ap, err := NNDescent(context.Background(), x, n, d, k, 1)
	if err != nil {
		t.Fatal(err)
	}
	hit := 0
	for i := 0; i < n; i++ {
		set := map[int32]bool{}
		for _, j := range ex.Indices[i*k : (i+1)*k] {
			set[j] = true
		}
		for _, j := range ap.Indices[i*k : (i+1)*k] {
			if set[j] {
				hit++
			}
		}
	}
	if recall := float64(hit) / float64(n*k); recall < 0.97 {
		t.Errorf("NN-descent recall %.3f", recall)
	}
}

// TestUMAPTrustworthinessParity is the parity claim: on the Gaussian
// mixture and on scikit-learn's digits, our trustworthiness (k = 5 and 15)
// is within 0.02 of the mean of umap-learn's over three seeds.
func TestUMAPTrustworthinessParity(t *testing.T) {
	if testing.Short() {
		t.Skip("two UMAP fits of 1500–1800 points")
	}
	f := loadFixture(t)
	dx, dn, dd := digits(t)
	sets := map[string]struct {
		x    []float32
		n, d int
	}{
		"mixture": {mixture(1500, 32, 10, 1), 1500, 32},
		"digits":  {dx, dn, dd},
	}
	for name, s := range sets {
		res, err := Fit(context.Background(), s.x, s.n, s.d, Options{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []int{5, 15} {
			tr, err := Trustworthiness(s.x, s.d, res.Embedding, 2, k)
			if err != nil {
				t.Fatal(err)
			}
			ref := f.Fit[name].Trust[map[int]string{5: "5", 15: "15"}[k]]
			var mean float64
			for _, v := range ref {
				mean += v / float64(len(ref))
			}
			t.Logf("%s k=%d: trustworthiness ours %.4f, umap-learn %.4f (%v)", name, k, tr, mean, ref)
			if math.Abs(tr-mean) > 0.02 {
				t.Errorf("%s k=%d: trustworthiness %.4f, umap-learn %.4f", name, k, tr, mean)
			}
		}
	}
}

// TestFitDeterministicAcrossThreads: the same seed gives the same layout
// with one worker and with all of them; another seed a different one.
func TestFitDeterministicAcrossThreads(t *testing.T) {
	n, d := 400, 10
	x := mixture(n, d, 4, 9)
	o := Options{Seed: 3, Epochs: 60}
	a, err := Fit(context.Background(), x, n, d, o)
	if err != nil {
		t.Fatal(err)
	}
	restore := parallel.SetMaxWorkers(1)
	b, err := Fit(context.Background(), x, n, d, o)
	restore()
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Embedding {
		if a.Embedding[i] != b.Embedding[i] {
			t.Fatalf("coordinate %d differs between 1 and %d workers: %g vs %g", i, parallel.Workers(), a.Embedding[i], b.Embedding[i])
		}
	}
	o.Seed = 4
	c, _ := Fit(context.Background(), x, n, d, o)
	same := true
	for i := range a.Embedding {
		same = same && a.Embedding[i] == c.Embedding[i]
	}
	if same {
		t.Error("seeds 3 and 4 gave the same layout")
	}
}

func TestFitDisconnectedAndEdgeCases(t *testing.T) {
	// two far-apart blobs smaller than the neighbourhood: two components
	n, d := 40, 3
	x := mixture(n, d, 2, 2)
	for i := 0; i < n; i += 2 {
		x[i*d] += 1000
	}
	res, err := Fit(context.Background(), x, n, d, Options{Neighbors: 5, Epochs: 50})
	if err != nil {
		t.Fatal(err)
	}
	if res.ConnectedComponents < 2 {
		t.Errorf("%d components", res.ConnectedComponents)
	}
	for _, v := range res.Embedding {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatal("non-finite coordinate")
		}
	}
	if tr, _ := Trustworthiness(x, d, res.Embedding, 2, 3); tr < 0.9 {
		t.Errorf("two separated blobs embedded with trustworthiness %g", tr)
	}
	bad := [][]float32{nil, {1, 2, 3}, {float32(math.NaN()), 1, 2, 3}}
	for _, b := range bad {
		if _, err := Fit(context.Background(), b, 2, 2, Options{}); err == nil {
			t.Errorf("%v accepted", b)
		}
	}
	if _, err := Fit(context.Background(), x, n, d, Options{MinDist: 3}); err == nil {
		t.Error("min_dist > spread accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fit(ctx, x, n, d, Options{}); err == nil {
		t.Error("cancelled context ignored")
	}
}

func BenchmarkFitMixture1500(b *testing.B) {
	x := mixture(1500, 32, 10, 1)
	for i := 0; i < b.N; i++ {
		if _, err := Fit(context.Background(), x, 1500, 32, Options{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFastPow(t *testing.T) {
	for _, x := range []float64{1e-300, 1e-30, 1e-6, 0.01, 0.3, 0.7071, 1, 1.4143, 2, 3.7, 1e3, 1e12, 1e300} {
		for _, y := range []float64{-1.21, -0.105, 0, 0.5, 0.895, 1.33, 2} {
			want := math.Pow(x, y)
			if got := pow(x, y); math.Abs(got-want) > 1e-9*want {
				t.Errorf("pow(%g, %g) = %g, want %g", x, y, got, want)
			}
		}
	}
}
