package plot

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
	"github.com/metasurv/metasurv/survival"
)

// lung loads R's lung data with sex as the group column.
func lung(t *testing.T) *survival.Dataset {
	t.Helper()
	f, err := os.Open(fixture.Path(t, "testdata", "survival", "lung.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := survival.ReadCSV(f, survival.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := tab.Dataset(survival.DatasetOptions{Time: "time", Event: "status", Keep: []string{"sex"}, Covariates: []string{"age", "ph.ecog"}})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// outDir is where figures go: METASURV_PLOT_DIR to keep them for a look,
// otherwise a temporary directory.
func outDir(t *testing.T) string {
	if d := os.Getenv("METASURV_PLOT_DIR"); d != "" {
		return d
	}
	return t.TempDir()
}

// checkFigure writes a figure as PNG and SVG and checks both decode.
func checkFigure(t *testing.T, f *Figure, name string) {
	t.Helper()
	dir := outDir(t)
	for _, ext := range []string{".png", ".svg"} {
		p := filepath.Join(dir, name+ext)
		if err := f.Save(p); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if ext == ".png" {
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			w := int(math.Round(f.Width.Dots(DPI)))
			if img.Bounds().Dx() != w {
				t.Errorf("%s: width %d px want %d", p, img.Bounds().Dx(), w)
			}
		} else if !bytes.Contains(b, []byte("<svg")) {
			t.Errorf("%s is not SVG", p)
		}
	}
	if err := f.Save(filepath.Join(dir, name+".gif")); err == nil {
		t.Error("unknown extension accepted")
	}
}

func TestFigures(t *testing.T) {
	ds := lung(t)
	f1, err := Figure1(ds.Y, Figure1Options{Unit: survival.Days})
	if err != nil {
		t.Fatal(err)
	}
	checkFigure(t, f1, "figure1")
	var groups []Group
	for _, sex := range []string{"1", "2"} {
		g := Group{Label: map[string]string{"1": "male", "2": "female"}[sex]}
		for i, s := range ds.Kept["sex"] {
			if s == sex {
				g.Y = append(g.Y, ds.Y[i])
			}
		}
		groups = append(groups, g)
	}
	km, err := KMCurves(groups, KMOptions{Title: "lung: survival by sex", Unit: survival.Days})
	if err != nil {
		t.Fatal(err)
	}
	checkFigure(t, km, "km_by_sex")
	fit, err := survival.Cox(ds.Y, ds.X, ds.Names, survival.CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pred := make([]float64, len(ds.Y))
	for i, x := range ds.X {
		if pred[i], err = fit.SurvivalAt(x, "", 365); err != nil {
			t.Fatal(err)
		}
	}
	bins, err := survival.Calibration(ds.Y, pred, 365, 5)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := Calibration(bins, 365, survival.Days)
	if err != nil {
		t.Fatal(err)
	}
	checkFigure(t, cal, "calibration")
	if _, err := KMCurves(nil, KMOptions{}); err == nil || !strings.Contains(err.Error(), "no groups") {
		t.Errorf("empty group list: %v", err)
	}
}

func TestComparisonChart(t *testing.T) {
	bars := []Bar{
		{Label: "Cox (clinical)", Value: 0.68, Lo: 0.61, Hi: 0.74, Kind: "clinical"},
		{Label: "ResNet10", Value: 0.63, Lo: 0.55, Hi: 0.70, Kind: "image"},
		{Label: "ViT", Value: 0.60, Lo: math.NaN(), Hi: math.NaN(), Kind: "image"},
		{Label: "late fusion", Value: 0.74, Lo: 0.68, Hi: 0.80, Kind: "fused"},
	}
	f, err := Comparison(bars, ComparisonOptions{Title: "held-out concordance"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, ext := range []string{".png", ".svg"} {
		if err := f.Save(filepath.Join(dir, "cmp"+ext)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Comparison(nil, ComparisonOptions{}); err == nil {
		t.Error("empty comparison accepted")
	}
	if _, err := Comparison([]Bar{{Label: "x", Value: 0.9, Lo: 0.1, Hi: 0.5}}, ComparisonOptions{}); err == nil {
		t.Error("interval not holding the value accepted")
	}
	if _, err := Custom(0, 1, nil); err == nil {
		t.Error("empty custom figure accepted")
	}
}
