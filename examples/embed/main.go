// Command embed turns a folder of patients into image embeddings and the
// study's Figure 2:
//
//	embed -data /data/export -out /data/embed
//
// DATA holds one sub-folder per patient with its MRI sequences as NIfTI
// files, named as scanners write them (t1_mprage_sag.nii.gz,
// t1_mprage_sag_post_gd.nii.gz, t2_tse_tra.nii.gz, t2_flair_tra.nii.gz;
// BraTS names such as *_t1ce.nii.gz work too), and clinical.csv (see
// examples/cohort for a synthetic one). Every patient is registered to the
// atlas, skull-stripped, resized to the model grid and z-scored
// (norm.Preprocess), then embedded. Written to OUT:
//
//	preprocessed/<id>.npy/.json   the model input of each patient (reused on a rerun)
//	embeddings.npy                patients × features, rows in the order of ids.txt
//	embeddings_per_sequence.npy   one row per present sequence of each patient
//	umap.npy                      the 2-D UMAP of embeddings.npy
//	figure2.png / .svg            UMAP panels by sequence and by survival class
//
// A patient with a problem (no recognised sequence file, an unreadable
// NIfTI, no row in the clinical table) is listed and left out; the others
// are finished and cached, and the command exits with status 1.
package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/metasurv/metasurv/examples/internal/cli"
)

func main() {
	cli.Main("embed", run)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c cli.CommonFlags
	fs := cli.NewFlagSet("embed", "Usage: embed -data DIR -out DIR [flags]\n\nPreprocesses every patient folder of DIR, embeds it, and writes embeddings.npy, ids.txt,\numap.npy and Figure 2 (UMAP by sequence and by survival class) to OUT.", stderr)
	c.Register(fs)
	if err := c.Parse(fs, args); err != nil {
		return err
	}
	o, err := c.Options(ctx, stderr)
	if err != nil {
		return err
	}
	co, err := cli.Embed(ctx, o)
	o.Bar.Done()
	if err != nil {
		if co != nil {
			cli.ReportProblems(stdout, co, c.Out)
		}
		return err
	}
	fmt.Fprintf(stdout, "embedded %d patients (%d features each, %d per-sequence rows) into %s\n",
		len(co.Emb.IDs), len(co.Emb.All[0]), len(co.Emb.PerSeq), filepath.Join(c.Out, "embeddings.npy"))
	fmt.Fprintf(stdout, "Figure 2: %s\n", filepath.Join(c.Out, "figure2.png"))
	return cli.ReportProblems(stdout, co, c.Out)
}
