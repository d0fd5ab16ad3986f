package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/metasurv/metasurv/internal/atomicfile"
	"github.com/metasurv/metasurv/survival"
	"github.com/metasurv/metasurv/survival/plot"
)

// TrainOptions configure Train.
type TrainOptions struct {
	Out          string
	TestFraction float64 // zero: 0.3
	Seed         uint64
	Lambda       float64 // ridge penalty (zero: chosen by 5-fold cross-validation on the training set)
	Components   int     // image principal components (zero: 10)
	Resamples    int     // bootstrap resamples for the CIs (zero: 1000)
	Bar          *Bar
}

// Score is one model's held-out concordance with its bootstrap interval.
type Score struct {
	Model string
	Kind  string
	C     survival.Interval
}

// Bundle is everything predict needs: the image embedding, the clinical
// encoding, the principal axes of the image features and the models.
type Bundle struct {
	Version  int
	Embedder string
	Target   [3]int
	Effort   Effort `json:",omitzero"` // registration effort of preprocessing
	Atlas    string
	Encoder  *Encoder
	Header   []string // clinical table columns the encoder indexes
	PCA      *PCA
	Models   []*CoxModel
	Scores   []Score
	Classes  []string
}

// TrainResult is the outcome of Train.
type TrainResult struct {
	Bundle           *Bundle
	Train, Test      []int
	TestRisk         map[string][]float64
	Scores           []Score
	Table            string
	BundlePath       string
	FigurePaths      []string
	KnownTestClasses int
}

// Train splits the cohort (stratified by survival class, seeded), fits
// three ridge Cox models on the training patients — clinical variables
// only, image embedding only (its first principal components), and both
// fused — scores each on the held-out patients (Harrell's C with a 95%
// bootstrap interval), and writes the comparison table and chart, Figure 1,
// Kaplan–Meier curves of the held-out patients by the fused model's
// predicted class (with numbers at risk), and the bundle.
func Train(ctx context.Context, c *Cohort, o TrainOptions) (*TrainResult, error) {
	if o.TestFraction == 0 {
		o.TestFraction = 0.3
	}
	if o.Components == 0 {
		o.Components = 10 // the radiomics features spread lesion burden over many components; 3 lost about 0.03 of C
	}
	if o.Resamples == 0 {
		o.Resamples = 1000
	}
	n := len(c.Emb.All)
	sets, err := survival.StratifiedSplit(c.Labels.Strata(), []float64{1 - o.TestFraction, o.TestFraction}, o.Seed)
	if err != nil {
		return nil, err
	}
	tr, te := sets[0], sets[1]
	if len(te) < 3 || len(tr) < 5 {
		return nil, fmt.Errorf("%w: %d patients give %d for training and %d for testing; need more patients", ErrBadInput, n, len(tr), len(te))
	}
	o.Bar.Update("train", 0.1, "clinical encoder")
	trIDs := make([]string, len(tr))
	for i, p := range tr {
		trIDs[i] = c.Emb.IDs[p]
	}
	enc := FitEncoder(c.Clinical, trIDs)
	trEmb := make([][]float32, len(tr))
	for i, p := range tr {
		trEmb[i] = c.Emb.All[p]
	}
	pca, err := FitPCA(trEmb, o.Components)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Version: 1, Target: c.Grid(), Effort: c.Effort, Encoder: enc, Header: c.Clinical.Header, PCA: pca, Classes: ClassNames}
	design := map[string]func(p int) []float64{
		"clinical": func(p int) []float64 { return enc.Encode(c.Clinical.Rows[c.Emb.IDs[p]]) },
		"image":    func(p int) []float64 { return pca.Project(c.Emb.All[p]) },
	}
	design["fused"] = func(p int) []float64 { return append(design["clinical"](p), design["image"](p)...) }
	pcNames := make([]string, len(pca.Components))
	for i := range pcNames {
		pcNames[i] = fmt.Sprintf("image PC%d", i+1)
	}
	names := map[string][]string{"clinical": enc.Names(), "image": pcNames, "fused": append(enc.Names(), pcNames...)}
	title := map[string]string{"clinical": "Cox, clinical only", "image": "Cox, image only", "fused": "Cox, clinical + image"}
	res := &TrainResult{Train: tr, Test: te, TestRisk: map[string][]float64{}}
	yTr := make([]survival.Outcome, len(tr))
	for i, p := range tr {
		yTr[i] = c.Y[p]
	}
	yTe := make([]survival.Outcome, len(te))
	for i, p := range te {
		yTe[i] = c.Y[p]
	}
	for k, kind := range []string{"clinical", "image", "fused"} {
		o.Bar.Update("train", 0.2+0.2*float64(k), title[kind])
		x := make([][]float64, len(tr))
		for i, p := range tr {
			x[i] = design[kind](p)
		}
		lambda := o.Lambda
		if lambda == 0 {
			lambda = ChooseLambda(yTr, x, o.Seed)
		}
		m, err := FitCox(title[kind], kind, names[kind], yTr, x, lambda)
		if err != nil {
			return nil, err
		}
		b.Models = append(b.Models, m)
		risk := make([]float64, len(te))
		for i, p := range te {
			risk[i] = m.Risk(design[kind](p))
		}
		res.TestRisk[kind] = risk
		iv, err := survival.Bootstrap(ctx, len(te), func(rows []int) (float64, error) {
			y := make([]survival.Outcome, len(rows))
			r := make([]float64, len(rows))
			for i, q := range rows {
				y[i], r[i] = yTe[q], risk[q]
			}
			cr, err := survival.Concordance(y, r, survival.ConcordanceOptions{})
			if err != nil {
				return math.NaN(), err
			}
			return cr.C, nil
		}, survival.BootstrapOptions{Resamples: o.Resamples, Seed: o.Seed})
		if err != nil {
			return nil, fmt.Errorf("%s: held-out concordance: %w", title[kind], err)
		}
		res.Scores = append(res.Scores, Score{Model: title[kind], Kind: kind, C: iv})
	}
	b.Scores = res.Scores
	res.Bundle = b
	var sb strings.Builder
	fmt.Fprintf(&sb, "| model | held-out C-index | 95%% CI | ridge λ (5-fold CV) |\n|---|---|---|---|\n")
	for i, s := range res.Scores {
		fmt.Fprintf(&sb, "| %s | %.3f | %.3f–%.3f | %g |\n", s.Model, s.C.Estimate, s.C.Lower, s.C.Upper, b.Models[i].Lambda)
	}
	res.Table = sb.String()

	o.Bar.Update("figures", 0.8, "comparison, Figure 1, Kaplan–Meier")
	var bars []plot.Bar
	for _, s := range res.Scores {
		bars = append(bars, plot.Bar{Label: s.Model, Value: s.C.Estimate, Lo: s.C.Lower, Hi: s.C.Upper, Kind: s.Kind})
	}
	save := func(name string, f *plot.Figure, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, ext := range []string{".png", ".svg"} {
			p := filepath.Join(o.Out, name+ext)
			if err := f.Save(p); err != nil {
				return err
			}
			res.FigurePaths = append(res.FigurePaths, p)
		}
		return nil
	}
	f, err := plot.Comparison(bars, plot.ComparisonOptions{Title: fmt.Sprintf("Held-out concordance (%d test patients)", len(te))})
	if err := save("comparison", f, err); err != nil {
		return nil, err
	}
	f, err = plot.Figure1(c.Y, plot.Figure1Options{Unit: survival.Months, Title: fmt.Sprintf("Survival of the cohort (%d patients)", n)})
	if err := save("figure1", f, err); err != nil {
		return nil, err
	}
	fused := b.Models[2]
	cls := make([]int, len(te))
	for i := range te {
		cls[i] = fused.Class(res.TestRisk["fused"][i])
	}
	if err := KMByClass(o.Out, yTe, cls, "Held-out patients by predicted class (Cox, clinical + image)"); err != nil {
		return nil, err
	}
	res.FigurePaths = append(res.FigurePaths, filepath.Join(o.Out, "km_predicted.png"), filepath.Join(o.Out, "km_predicted.svg"))
	res.BundlePath = filepath.Join(o.Out, "bundle.json")
	if err := SaveBundle(res.BundlePath, b); err != nil {
		return nil, err
	}
	met, _ := json.MarshalIndent(map[string]any{"train": len(tr), "test": len(te), "scores": res.Scores}, "", " ")
	if err := atomicfile.WriteFile(filepath.Join(o.Out, "metrics.json"), met); err != nil {
		return nil, err
	}
	o.Bar.Update("train", 1, "done")
	return res, nil
}

// SaveBundle writes a bundle as JSON, atomically.
func SaveBundle(path string, b *Bundle) error {
	j, err := json.MarshalIndent(b, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, j)
}

// LoadBundle reads a bundle written by SaveBundle.
func LoadBundle(path string) (*Bundle, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: bundle: %v", ErrBadInput, err)
	}
	var b Bundle
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%w: %s is not a metasurv bundle: %v", ErrBadInput, path, err)
	}
	if b.Version != 1 || len(b.Models) != 3 || b.PCA == nil || b.Encoder == nil {
		return nil, fmt.Errorf("%w: %s is not a version-1 metasurv bundle with three models", ErrBadInput, path)
	}
	return &b, nil
}

// ChooseLambda picks the ridge penalty of a Cox model by 5-fold
// cross-validation on the training patients only: the value among
// 0.3, 1, 3, 10 and 30 with the best mean held-out Harrell's C.
func ChooseLambda(y []survival.Outcome, x [][]float64, seed uint64) float64 {
	strata := make([]int, len(y))
	folds, err := survival.StratifiedKFold(strata, 5, seed)
	if err != nil || len(y) < 15 {
		return 1
	}
	best, bestC := 1.0, -1.0
	for _, lam := range []float64{0.3, 1, 3, 10, 30} {
		var sum float64
		var n int
		for _, f := range folds {
			var ytr, yva []survival.Outcome
			var xtr, xva [][]float64
			for _, i := range f.Train {
				ytr, xtr = append(ytr, y[i]), append(xtr, x[i])
			}
			for _, i := range f.Test {
				yva, xva = append(yva, y[i]), append(xva, x[i])
			}
			beta, err := RidgeCox(ytr, xtr, lam)
			if err != nil {
				continue
			}
			r := make([]float64, len(xva))
			for i := range xva {
				r[i] = dotf(xva[i], beta)
			}
			if cr, err := survival.Concordance(yva, r, survival.ConcordanceOptions{}); err == nil && !math.IsNaN(cr.C) {
				sum += cr.C
				n++
			}
		}
		if n > 0 && sum/float64(n) > bestC {
			best, bestC = lam, sum/float64(n)
		}
	}
	return best
}
