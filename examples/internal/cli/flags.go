package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// CommonFlags are the flags the data commands share.
type CommonFlags struct {
	Data, Clinical, Out string
	Atlas, AtlasMask    string
	Grid                int
	Require             string
	Embedder, Weights   string
	Seed                uint64
	Quiet               bool
	RequireIdx          []int
}

// Register adds the flags to fs.
func (c *CommonFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Data, "data", "", "folder of the hospital export: one sub-folder of NIfTI files per patient (required)")
	fs.StringVar(&c.Clinical, "clinical", "", "clinical CSV with columns id, age, kps, histology, extracranial, n_mets, prior_treatment, egfr, alk, braf, survival_months, death (default: DATA/clinical.csv)")
	fs.StringVar(&c.Out, "out", "", "output folder (required); preprocessed patients are cached in OUT/preprocessed and reused on a rerun")
	fs.StringVar(&c.Atlas, "atlas", "phantom", `atlas NIfTI every patient is registered to ("phantom": the synthetic head at 2 mm)`)
	fs.StringVar(&c.AtlasMask, "atlas-mask", "", "brain mask NIfTI on the atlas grid (nonzero = brain); needed with a real -atlas")
	fs.IntVar(&c.Grid, "grid", 96, "side of the model grid in voxels (the study's 96)")
	fs.StringVar(&c.Require, "require", "", "comma-separated sequences a patient must have (e.g. T1c,FLAIR); others are zero-filled when absent")
	fs.StringVar(&c.Embedder, "embedder", "radiomics", "image embedding: radiomics (intensity-distribution features per sequence), or a model of the zoo such as resnet10, medicalnet10, densenet121 (penultimate features; see -weights)")
	fs.StringVar(&c.Weights, "weights", "", "pretrained weights for a zoo -embedder (.pt/.pth or .safetensors, e.g. MedicalNet's resnet_10_23dataset.pth); without them the network keeps random weights")
	fs.Uint64Var(&c.Seed, "seed", 1, "random seed (UMAP, split, training)")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress bar")
}

// Parse parses args into the flags of fs and checks them (see Check).
func (c *CommonFlags) Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	return c.Check(fs)
}

// Check validates the flags after parsing.
func (c *CommonFlags) Check(fs *flag.FlagSet) error {
	if err := NoArgs(fs); err != nil {
		return err
	}
	if c.Data == "" || c.Out == "" {
		return fmt.Errorf("-data and -out are required (see -h)")
	}
	if c.Grid < 16 || c.Grid > 256 {
		return fmt.Errorf("-grid %d: want 16 to 256 voxels", c.Grid)
	}
	if c.Embedder == "radiomics" && c.Weights != "" {
		return fmt.Errorf("-weights is for a zoo -embedder (resnet10, ...), not radiomics")
	}
	if c.Atlas != "phantom" && c.AtlasMask == "" {
		return fmt.Errorf("-atlas %s needs -atlas-mask (the brain mask on the atlas grid)", c.Atlas)
	}
	var err error
	c.RequireIdx, err = ParseSequences(c.Require)
	return err
}

// ParseSequences parses "T1c,FLAIR" into sequence indices.
func ParseSequences(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		found := false
		for i, n := range SequenceNames {
			if strings.EqualFold(f, n) {
				out = append(out, i)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown sequence %q (want T1, T1c, T2 or FLAIR)", f)
		}
	}
	return out, nil
}

// Options turns the flags into EmbedOptions.
func (c *CommonFlags) Options(ctx context.Context, stderr io.Writer) (EmbedOptions, error) {
	at, err := LoadAtlas(c.Atlas, c.AtlasMask)
	if err != nil {
		return EmbedOptions{}, err
	}
	var bar *Bar
	if !c.Quiet {
		bar = NewBar(stderr)
	}
	e, err := MakeEmbedder(ctx, c.Embedder, c.Weights, c.Seed)
	if err != nil {
		return EmbedOptions{}, err
	}
	return EmbedOptions{Data: c.Data, Clinical: c.Clinical, Out: c.Out, Atlas: at, Target: [3]int{c.Grid, c.Grid, c.Grid},
		Embedder: e, Require: c.RequireIdx, Seed: c.Seed, Bar: bar}, nil
}

// MakeEmbedder returns the radiomics embedding or a zoo model by name.
func MakeEmbedder(ctx context.Context, name, weights string, seed uint64) (Embedder, error) {
	if name == "" || name == "radiomics" {
		return Radiomics{}, nil
	}
	return NewBackbone(ctx, name, weights, seed)
}

// ReportProblems prints the problems and returns an error when there were
// any, saying that the finished work is kept.
func ReportProblems(w io.Writer, c *Cohort, out string) error {
	if c == nil || len(c.Problems) == 0 {
		return nil
	}
	fmt.Fprintf(w, "%d problem(s) with the input:\n", len(c.Problems))
	for _, p := range c.Problems {
		fmt.Fprintln(w, "  -", p)
	}
	return fmt.Errorf("%w: %d patient(s) left out (listed above); the others were processed and are cached in %s/preprocessed — fix the files and rerun, finished patients are not redone",
		ErrBadInput, len(c.Problems), out)
}
