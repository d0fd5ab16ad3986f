// Command train trains and evaluates the study's survival models on a
// folder of patients and writes a bundle that examples/predict uses:
//
//	train -data /data/export -out /data/model
//
// DATA is laid out as for examples/embed (one folder of NIfTI files per
// patient and clinical.csv with the columns of fusion.StudySchema plus
// survival_months and death). The patients are preprocessed (cached in
// OUT/preprocessed), embedded, split into training and held-out test sets
// stratified by survival class (-test, seeded), and these models are
// trained on the training set:
//
//   - ridge Cox models on the clinical table, on the image embedding's
//     principal components, and on both (bundle.json);
//   - MLPs (fusion package) on the clinical table, on the image embedding,
//     and the early, late and gated fusions of both; the late fusion is
//     saved as fusion.safetensors with embedding.json beside it.
//
// It prints the held-out comparison (C-index, and for the MLPs balanced
// accuracy, macro-F1 and AUC, with bootstrap intervals), and writes
// metrics, figure1, figure2, comparison and km_predicted (PNG and SVG).
// Patients with a problem are listed and left out; the others are kept.
package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/metasurv/metasurv/examples/internal/cli"
)

func main() {
	cli.Main("train", run)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c cli.CommonFlags
	var test float64
	var epochs int
	fs := cli.NewFlagSet("train", "Usage: train -data DIR -out DIR [flags]\n\nTrains the clinical-only, image-only and fused survival models on the patients of DIR,\nevaluates them on held-out patients, and writes the bundles, metrics and figures to OUT.", stderr)
	c.Register(fs)
	fs.Float64Var(&test, "test", 0.3, "share of patients held out for testing (0.1 to 0.5)")
	fs.IntVar(&epochs, "epochs", 60, "training epochs of the MLPs (early stopping on a validation sixth of the training set)")
	if err := c.Parse(fs, args); err != nil {
		return err
	}
	if !(test >= 0.1 && test <= 0.5) {
		return fmt.Errorf("-test %g: want a share from 0.1 to 0.5", test)
	}
	if epochs < 1 || epochs > 10000 {
		return fmt.Errorf("-epochs %d: want 1 to 10000", epochs)
	}
	o, err := c.Options(ctx, stderr)
	if err != nil {
		return err
	}
	co, err := cli.Embed(ctx, o)
	if err != nil {
		o.Bar.Done()
		if co != nil {
			cli.ReportProblems(stdout, co, c.Out)
		}
		return err
	}
	tr, err := cli.Train(ctx, co, cli.TrainOptions{Out: c.Out, TestFraction: test, Seed: c.Seed, Bar: o.Bar})
	if err != nil {
		o.Bar.Done()
		return err
	}
	clin := c.Clinical
	if clin == "" {
		clin = filepath.Join(c.Data, "clinical.csv")
	}
	fr, err := cli.TrainFusion(ctx, co, tr.Train, tr.Test, cli.FusionOptions{Out: c.Out, Clinical: clin, Seed: c.Seed, Epochs: epochs, Embedder: o.Embedder, Bar: o.Bar})
	o.Bar.Done()
	if err != nil {
		return err
	}
	if _, err := cli.HeldOutFigures(c.Out, co, tr, fr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained on %d patients, tested on %d held-out patients\n\n%s\n%s\n", len(tr.Train), len(tr.Test), tr.Table, fr.Comparison.Markdown())
	fmt.Fprintf(stdout, "bundles: %s (with %s), %s\nfigures: figure1, figure2, comparison, km_predicted (.png, .svg) in %s\n",
		fr.Bundle, filepath.Base(fr.Scale), tr.BundlePath, c.Out)
	return cli.ReportProblems(stdout, co, c.Out)
}
