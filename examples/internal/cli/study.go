package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/metasurv/metasurv/internal/atomicfile"
	"github.com/metasurv/metasurv/internal/figures"
	"github.com/metasurv/metasurv/internal/umap"
	"github.com/metasurv/metasurv/survival"
)

// ClassNames are the study's survival classes.
var ClassNames = []string{"<6 months", "6–21 months", "≥21 months"}

// EmbedOptions configure Embed.
type EmbedOptions struct {
	Data     string // the hospital export: one folder per patient
	Clinical string // clinical CSV (zero: Data/clinical.csv)
	Out      string // output folder (preprocessed cache, embeddings, figures)
	Atlas    *Atlas
	Target   [3]int
	Embedder Embedder
	Require  []int
	Effort   Effort // registration effort (zero: norm's default)
	Seed     uint64
	Bar      *Bar
}

// Cohort is a cohort read, preprocessed and embedded: the patients that
// made it through, in order, with their clinical rows, outcomes and
// embeddings. The stacks themselves stay in the cache on disk: Embed
// embeds them a few patients at a time, so that memory does not grow with
// the cohort (300 stacks of 4×96³ would hold 4 GB).
type Cohort struct {
	Patients []Patient
	// Shape is the model input's shape, channels × grid.
	Shape    [4]int
	Clinical *Clinical
	Y        []survival.Outcome // months
	Labels   *survival.Labels
	Emb      *Embeddings
	// Effort is the registration effort the stacks were preprocessed
	// with; trained models record it for predict.
	Effort Effort
	// Problems lists every patient left out and why.
	Problems []error
}

// Embed reads the export, checks it against the clinical table, preprocesses
// (cached in Out/preprocessed), embeds every patient, and writes
// Out/embeddings.npy (patients × features), Out/embeddings_per_sequence.npy,
// Out/ids.txt, Out/umap.npy and Figure 2 (Out/figure2.png and .svg).
// Patients with a problem are left out and listed in Cohort.Problems; the
// work done for the others is kept on disk.
func Embed(ctx context.Context, o EmbedOptions) (*Cohort, error) {
	if o.Clinical == "" {
		o.Clinical = filepath.Join(o.Data, "clinical.csv")
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	pats, probs, err := ScanExport(o.Data)
	if err != nil {
		return nil, err
	}
	clin, err := ReadClinical(o.Clinical, "id", "survival_months", "death")
	if err != nil {
		return nil, err
	}
	c := &Cohort{Clinical: clin, Problems: probs, Effort: o.Effort}
	var kept []Patient
	seen := map[string]bool{}
	for _, p := range pats {
		seen[p.ID] = true
		if _, ok := clin.Rows[p.ID]; !ok {
			c.Problems = append(c.Problems, fmt.Errorf("%w: patient %s has a folder but no row in %s", ErrBadInput, p.ID, o.Clinical))
			continue
		}
		kept = append(kept, p)
	}
	for _, id := range clin.Order {
		if !seen[id] {
			c.Problems = append(c.Problems, fmt.Errorf("%w: patient %s is in %s but has no image folder in %s", ErrBadInput, id, o.Clinical, o.Data))
		}
	}
	c.Emb = &Embeddings{}
	for lo := 0; lo < len(kept); lo += chunkPatients {
		hi := min(lo+chunkPatients, len(kept))
		if err := c.embedChunk(ctx, kept[lo:hi], o); err != nil {
			return c, err
		}
		o.Bar.Update("preprocess + embed", float64(hi)/float64(len(kept)), fmt.Sprintf("%d/%d patients", len(c.Patients), len(kept)))
	}
	if len(c.Patients) < 4 {
		return c, fmt.Errorf("%w: only %d usable patients (problems: %s)", ErrBadInput, len(c.Patients), joinErrs(c.Problems))
	}
	if c.Labels, err = survival.StudyClasses().Label(c.Y, survival.Months); err != nil {
		return c, err
	}
	if err := SaveNPY(filepath.Join(o.Out, "embeddings.npy"), c.Emb.All); err != nil {
		return c, err
	}
	if err := SaveNPY(filepath.Join(o.Out, "embeddings_per_sequence.npy"), c.Emb.PerSeq); err != nil {
		return c, err
	}
	if err := atomicfile.WriteFile(filepath.Join(o.Out, "ids.txt"), []byte(strings.Join(c.Emb.IDs, "\n")+"\n")); err != nil {
		return c, err
	}
	if err := Figure2(ctx, c, o.Out, o.Seed, o.Bar); err != nil {
		return c, err
	}
	return c, nil
}

func joinErrs(es []error) string {
	var s []string
	for _, e := range es {
		s = append(s, e.Error())
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "; ")
}

// Grid is the model grid of the stacks (Shape without the channels).
func (c *Cohort) Grid() [3]int { return [3]int{c.Shape[1], c.Shape[2], c.Shape[3]} }

// chunkPatients is how many patients Embed preprocesses and embeds
// before it lets their stacks go.
const chunkPatients = 16

// embedChunk preprocesses (or reads from the cache) and embeds a few
// patients, appending those that succeed and the problems of the others.
func (c *Cohort) embedChunk(ctx context.Context, pats []Patient, o EmbedOptions) error {
	stacks, fails, err := Preprocess(ctx, pats, o.Atlas, PrepOptions{Cache: filepath.Join(o.Out, "preprocessed"), Target: o.Target, Require: o.Require, Effort: o.Effort})
	if err != nil {
		return err
	}
	for _, f := range fails {
		c.Problems = append(c.Problems, f)
	}
	ids := make([]string, len(pats))
	for i, p := range pats {
		ids[i] = p.ID
		if stacks[i] != nil {
			c.Patients = append(c.Patients, p)
			c.Shape = stacks[i].Shape()
			c.Y = append(c.Y, c.Clinical.Outcome(p.ID))
		}
	}
	e, err := EmbedAll(ctx, o.Embedder, ids, stacks, nil) // skips the failed patients' nil stacks
	if err != nil {
		return err
	}
	c.Emb.add(e)
	return nil
}

// standardise returns the rows scaled to zero mean and unit variance per
// column, as a flat slice (UMAP input).
func standardise(rows [][]float32) ([]float32, int) {
	mean, sd := meanSD(rows)
	d := len(mean)
	flat := make([]float32, 0, len(rows)*d)
	for _, r := range rows {
		for j, v := range r {
			z := 0.0 // missing: the mean
			if !math.IsNaN(float64(v)) {
				z = (float64(v) - mean[j]) / sd[j]
			}
			flat = append(flat, float32(z))
		}
	}
	return flat, d
}

// Figure2 computes the UMAPs of the per-sequence and the four-sequence
// embeddings and draws the study's Figure 2: per-sequence points coloured
// by sequence and by survival class, four-sequence points by survival
// class. It writes Out/umap.npy (the four-sequence layout) too.
func Figure2(ctx context.Context, c *Cohort, out string, seed uint64, bar *Bar) error {
	e := c.Emb
	n := len(e.All)
	nb := func(m int) int { return max(2, min(15, m-1)) }
	progress := func(stage string) func(string, float64) {
		return func(s string, f float64) { bar.Update("umap", f, stage+" "+s) }
	}
	xs, d := standardise(e.PerSeq)
	perSeq, err := umap.Fit(ctx, xs, len(e.PerSeq), d, umap.Options{Seed: seed, Neighbors: nb(len(e.PerSeq)), Progress: progress("per-sequence")})
	if err != nil {
		return fmt.Errorf("UMAP of per-sequence embeddings: %w", err)
	}
	xa, da := standardise(e.All)
	all, err := umap.Fit(ctx, xa, n, da, umap.Options{Seed: seed, Neighbors: nb(n), Progress: progress("4-sequence")})
	if err != nil {
		return fmt.Errorf("UMAP of embeddings: %w", err)
	}
	if err := SaveNPY(filepath.Join(out, "umap.npy"), rows2(all.Embedding, n)); err != nil {
		return err
	}
	classOf := func(p int) int {
		if c.Labels.Known[p] {
			return c.Labels.Class[p]
		}
		return 3
	}
	classes := append(append([]string{}, ClassNames...), "censored (unknown)")
	px, py := split2(perSeq.Embedding)
	seqCls := make([]int, len(e.PerSeq))
	for i, p := range e.PerSeqOf {
		seqCls[i] = classOf(p)
	}
	ax, ay := split2(all.Embedding)
	allCls := make([]int, n)
	for p := range allCls {
		allCls[p] = classOf(p)
	}
	panels := []figures.Panel{
		{Title: "per-sequence embeddings by sequence", X: px, Y: py, Group: e.SeqOf, Groups: SequenceNames[:]},
		{Title: "per-sequence embeddings by survival", X: px, Y: py, Group: seqCls, Groups: classes},
		{Title: "4-sequence embeddings by survival", X: ax, Y: ay, Group: allCls, Groups: classes},
	}
	f, err := figures.Scatter(panels, figures.ScatterOptions{})
	if err != nil {
		return err
	}
	for _, ext := range []string{".png", ".svg"} {
		if err := f.Save(filepath.Join(out, "figure2"+ext)); err != nil {
			return err
		}
	}
	return nil
}

func rows2(flat []float32, n int) [][]float32 {
	d := len(flat) / n
	out := make([][]float32, n)
	for i := range out {
		out[i] = flat[i*d : (i+1)*d]
	}
	return out
}

func split2(flat []float32) ([]float64, []float64) {
	n := len(flat) / 2
	x, y := make([]float64, n), make([]float64, n)
	for i := 0; i < n; i++ {
		x[i], y[i] = float64(flat[2*i]), float64(flat[2*i+1])
	}
	return x, y
}

// IsBadInput reports whether err is a problem with the user's data.
func IsBadInput(err error) bool { return errors.Is(err, ErrBadInput) }
