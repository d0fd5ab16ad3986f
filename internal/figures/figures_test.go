package figures

import (
	"bytes"
	"context"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/internal/synth"
	"github.com/metasurv/metasurv/internal/umap"
	"github.com/metasurv/metasurv/volume"
)

// outDir is where the figures go: METASURV_FIGURES_DIR to look at them,
// else a temporary folder.
func outDir(t *testing.T) string {
	if d := os.Getenv("METASURV_FIGURES_DIR"); d != "" {
		os.MkdirAll(d, 0o755)
		return d
	}
	return t.TempDir()
}

func TestScatterPanels(t *testing.T) {
	// four blobs in 6-D, embedded by UMAP, coloured two ways
	n, d := 240, 6
	x := make([]float32, n*d)
	group := make([]int, n)
	for i := 0; i < n; i++ {
		group[i] = i % 4
		for k := 0; k < d; k++ {
			x[i*d+k] = float32(math.Sin(float64(i*7+k*13))) + float32(4*(group[i]%2)*(k%2)) + float32(4*(group[i]/2)*((k+1)%2))
		}
	}
	res, err := umap.Fit(context.Background(), x, n, d, umap.Options{Seed: 1, Epochs: 100})
	if err != nil {
		t.Fatal(err)
	}
	px, py := make([]float64, n), make([]float64, n)
	halves := make([]int, n)
	for i := 0; i < n; i++ {
		px[i], py[i] = float64(res.Embedding[2*i]), float64(res.Embedding[2*i+1])
		halves[i] = i % 2
	}
	panels := []Panel{
		{Title: "by sequence", X: px, Y: py, Group: group, Groups: []string{"T1", "T1c", "T2", "FLAIR"}},
		{Title: "by parity", X: px, Y: py, Group: halves, Groups: []string{"even", "odd"}},
	}
	f, err := Scatter(panels, ScatterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := outDir(t)
	for _, ext := range []string{".png", ".svg"} {
		if err := f.Save(filepath.Join(dir, "scatter"+ext)); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "scatter.png"))
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() < 600 {
		t.Fatalf("PNG: %v %v", err, img)
	}
	bad := []Panel{{X: []float64{1}, Y: []float64{1, 2}, Group: []int{0}, Groups: []string{"a"}}}
	if _, err := Scatter(bad, ScatterOptions{}); err == nil {
		t.Error("ragged panel accepted")
	}
	bad = []Panel{{X: []float64{1}, Y: []float64{1}, Group: []int{3}, Groups: []string{"a"}}}
	if _, err := Scatter(bad, ScatterOptions{}); err == nil {
		t.Error("group out of range accepted")
	}
	if _, err := Scatter(nil, ScatterOptions{}); err == nil {
		t.Error("no panels accepted")
	}
}

func TestSaliencyOverlay(t *testing.T) {
	c, _ := synth.NewCohort(synth.CohortOptions{N: 1, Seed: 4, MissingShare: -1})
	p := c.Patients[0]
	dims, a, _ := synth.Grid([3]float64{180, 216, 180}, [3]float64{2, 2, 2}, "LPS")
	t1c, err := synth.Head(synth.T1c, dims, a, synth.HeadOptions{Lesions: p.Lesions, Ventricles: p.Ventricles, Noise: 0.01, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// a saliency that peaks on the lesions
	sal, _ := volume.New(dims, a)
	for k := 0; k < dims[2]; k++ {
		for j := 0; j < dims[1]; j++ {
			for i := 0; i < dims[0]; i++ {
				w := a.Apply([3]float64{float64(i), float64(j), float64(k)})
				var s float64
				for _, l := range p.Lesions {
					d2 := 0.0
					for q := 0; q < 3; q++ {
						d2 += (w[q] - l.Centre[q]) * (w[q] - l.Centre[q])
					}
					s += math.Exp(-d2 / (2 * l.Radius * l.Radius * 2))
				}
				sal.Data[sal.Index(i, j, k)] = float32(s)
			}
		}
	}
	f, err := Saliency(t1c, sal, SaliencyOptions{Title: "T1c with saliency"})
	if err != nil {
		t.Fatal(err)
	}
	dir := outDir(t)
	for _, ext := range []string{".png", ".svg"} {
		if err := f.Save(filepath.Join(dir, "saliency"+ext)); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := volume.New([3]int{2, 2, 2}, volume.Identity())
	if _, err := Saliency(t1c, other, SaliencyOptions{}); err == nil {
		t.Error("different grids accepted")
	}
	if _, err := Saliency(nil, sal, SaliencyOptions{}); err == nil {
		t.Error("nil volume accepted")
	}
}

// TestSaliencyColours checks the signed scales: positive saliency warm,
// negative blue, and neither near white at any strength (a white top
// vanishes over bright tissue).
func TestSaliencyColours(t *testing.T) {
	for _, v := range []float64{0.35, 0.6, 0.8, 1} {
		r, g, b := heat(v)
		if !(r > b+0.4 && min(r, g, b) < 0.2) {
			t.Errorf("heat(%g) = (%g, %g, %g): want warm, not white", v, r, g, b)
		}
		r, g, b = cool(v)
		if !(b > r+0.4 && min(r, g, b) < 0.2) {
			t.Errorf("cool(%g) = (%g, %g, %g): want blue, not white", v, r, g, b)
		}
	}
}
