// Command cohort writes a synthetic brain-metastasis cohort laid out as a
// hospital export, so that every other command can be tried without data:
//
//	OUT/clinical.csv            one row per patient (the columns of
//	                            fusion.StudySchema): id, age, kps, histology,
//	                            extracranial, n_mets (1, 2-4, >4),
//	                            prior_treatment, egfr, alk, braf, then
//	                            survival_months and death (1/0); missing
//	                            values are empty cells
//	OUT/truth.csv               what generated the data (the true log hazard,
//	                            tumour volume, ...) — not part of a real export
//	OUT/BM0001/t1_mprage_sag.nii.gz          T1, sagittal 3-D
//	OUT/BM0001/t1_mprage_sag_post_gd.nii.gz  T1 after gadolinium (T1c)
//	OUT/BM0001/t2_tse_tra.nii.gz             T2, axial, thick slices
//	OUT/BM0001/t2_flair_tra.nii.gz           FLAIR, axial
//
// Each patient has 1–10 metastases (enhancing rim on T1c, necrotic core,
// oedema on T2/FLAIR); each sequence has its own orientation, voxel size,
// head position, bias field, noise and scanner scale; about half of the
// patients miss a sequence (its file is absent). Survival follows a known
// hazard of lesion burden and clinical variables, with censoring.
//
//	go run ./examples/cohort -out /tmp/cohort -n 40 -spacing 2
//
// The same -seed always writes the same cohort. Files are written
// atomically, so an interrupted run leaves only complete files.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/metasurv/metasurv/examples/internal/cli"
	"github.com/metasurv/metasurv/internal/synth"
)

func main() {
	cli.Main("cohort", run)
}

type config struct {
	out       string
	n         int
	seed      uint64
	spacing   float64
	missing   float64
	firstID   int
	overwrite bool
	quiet     bool
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := cli.NewFlagSet("cohort", "Usage: cohort -out DIR [flags]\n\nWrites a synthetic brain-metastasis cohort as a hospital export: DIR/clinical.csv,\nDIR/truth.csv and one folder of NIfTI scans per patient (see go doc ./examples/cohort).", stderr)
	fs.StringVar(&c.out, "out", "", "folder to write the cohort into (required; created if absent)")
	fs.IntVar(&c.n, "n", 40, "number of patients (1 to 10000)")
	fs.Uint64Var(&c.seed, "seed", 1, "random seed: the same seed writes the same cohort")
	fs.Float64Var(&c.spacing, "spacing", 2, "voxel size factor: 1 = scanner resolution (about 1 mm, slow, ~8 MB per patient), 2 = half, 4 = tiny test images")
	fs.Float64Var(&c.missing, "missing", 0.5, "share of patients missing at least one sequence (0 to 1)")
	fs.IntVar(&c.firstID, "first-id", 1, "number of the first patient (BM0001 for 1), to add new patients to a cohort")
	fs.BoolVar(&c.overwrite, "overwrite", false, "write into a folder that already holds a clinical.csv")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := cli.NoArgs(fs); err != nil {
		return nil, err
	}
	switch {
	case c.out == "":
		return nil, errors.New("-out is required (the folder to write the cohort into)")
	case c.n < 1 || c.n > 10000:
		return nil, fmt.Errorf("-n %d: want 1 to 10000 patients", c.n)
	case !(c.spacing >= 0.5 && c.spacing <= 8):
		return nil, fmt.Errorf("-spacing %g: want 0.5 to 8", c.spacing)
	case !(c.missing >= 0 && c.missing <= 1):
		return nil, fmt.Errorf("-missing %g: want a share from 0 to 1", c.missing)
	case c.firstID < 1 || c.firstID+c.n > 10000:
		return nil, fmt.Errorf("-first-id %d: want 1 to %d so that identifiers stay 4 digits", c.firstID, 10000-c.n)
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.out, synth.ClinicalFile)); err == nil && !c.overwrite {
		return fmt.Errorf("%s already holds a cohort (%s); pass -overwrite to replace it", c.out, synth.ClinicalFile)
	}
	missing := c.missing
	if missing == 0 {
		missing = -1 // synth: negative means none
	}
	start := time.Now()
	co, err := synth.NewCohort(synth.CohortOptions{N: c.n, Seed: c.seed, Spacing: c.spacing, MissingShare: missing, FirstID: c.firstID})
	if err != nil {
		return err
	}
	var bar *cli.Bar
	if !c.quiet {
		bar = cli.NewBar(stderr)
	}
	err = co.Export(ctx, c.out, synth.ExportOptions{Progress: func(d, n int) {
		bar.Update("cohort", float64(d)/float64(n), fmt.Sprintf("%d/%d patients", d, n))
	}})
	bar.Done()
	if err != nil {
		return err
	}
	counts, censored := co.Classes()
	miss := 0
	for _, p := range co.Patients {
		if p.Present != [4]bool{true, true, true, true} {
			miss++
		}
	}
	fmt.Fprintf(stdout, "wrote %d patients to %s in %.1f s: %d miss a sequence, %d censored; true classes <6 / 6–21 / >21 months: %d / %d / %d\n",
		c.n, c.out, time.Since(start).Seconds(), miss, censored, counts[0], counts[1], counts[2])
	return nil
}
