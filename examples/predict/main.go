// Command predict applies a trained bundle to one new patient, from the raw
// NIfTI files of their folder and their row of a clinical table, and
// prints the prediction as JSON:
//
//	predict -bundle /data/model/fusion.safetensors -patient /data/new/BM0049 \
//	    -clinical /data/new/clinical.csv -saliency /tmp/BM0049_saliency.nii.gz
//
// The answer holds the survival class probabilities (<6, 6–21, ≥21 months),
// the predicted class, the risk scores (higher means shorter survival:
// "risk", the expected class, and "rank_risk", the one the model ranks
// patients by for its C-index — the Cox head's "cox_risk" when it has
// one), the survival curve, the inputs the model did without (missing
// sequences or clinical fields), and the explanation of rank_risk: how
// much each clinical variable and the imaging moved it (occlusion), how
// much each MRI sequence did, and — with -saliency — a map over the image
// of where hiding the anatomy changes it (NIfTI on the model grid;
// -figure draws it over axial T1c slices as PNG or SVG).
//
// The bundle is the fusion.safetensors written by examples/train (with its
// embedding.json beside it); the patient is registered to the same atlas as
// in training (-atlas, default the synthetic phantom).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/metasurv/metasurv/examples/internal/cli"
	"github.com/metasurv/metasurv/fusion"
	"github.com/metasurv/metasurv/internal/figures"
	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/survival"
)

func main() {
	cli.Main("predict", run)
}

type config struct {
	bundle, scale, patient, clinical, id string
	atlas, atlasMask, saliency, figure   string
	weights                              string
	quiet                                bool
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := cli.NewFlagSet("predict", "Usage: predict -bundle FILE -patient DIR -clinical CSV [flags]\n\nPredicts the survival class of one patient from raw NIfTI scans and clinical data,\nwith an explanation, as JSON on standard output.", stderr)
	fs.StringVar(&c.bundle, "bundle", "", "trained bundle, fusion.safetensors from examples/train (required)")
	fs.StringVar(&c.scale, "scale", "", "embedding scale file (default: embedding.json beside the bundle)")
	fs.StringVar(&c.patient, "patient", "", "the patient's folder of NIfTI files (required)")
	fs.StringVar(&c.clinical, "clinical", "", "clinical CSV holding the patient's row (columns of fusion.StudySchema; required)")
	fs.StringVar(&c.id, "id", "", "the patient's id in the clinical CSV (default: the folder name)")
	fs.StringVar(&c.atlas, "atlas", "phantom", `atlas NIfTI used in training ("phantom": the synthetic head at 2 mm)`)
	fs.StringVar(&c.atlasMask, "atlas-mask", "", "brain mask NIfTI on the atlas grid; needed with a real -atlas")
	fs.StringVar(&c.saliency, "saliency", "", "write the occlusion saliency map here (.nii or .nii.gz)")
	fs.StringVar(&c.figure, "figure", "", "draw the saliency over axial T1c slices here (.png or .svg; needs -saliency)")
	fs.StringVar(&c.weights, "weights", "", "weights of the zoo embedder if they moved since training (default: the path in embedding.json)")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	case c.bundle == "" || c.patient == "" || c.clinical == "":
		return nil, errors.New("-bundle, -patient and -clinical are required (see -h)")
	case c.saliency != "" && !strings.HasSuffix(c.saliency, ".nii") && !strings.HasSuffix(c.saliency, ".nii.gz"):
		return nil, fmt.Errorf("-saliency %s: want a .nii or .nii.gz file name", c.saliency)
	case c.figure != "" && c.saliency == "":
		return nil, errors.New("-figure needs -saliency")
	case c.figure != "" && !strings.HasSuffix(c.figure, ".png") && !strings.HasSuffix(c.figure, ".svg"):
		return nil, fmt.Errorf("-figure %s: want a .png or .svg file name", c.figure)
	case c.atlas != "phantom" && c.atlasMask == "":
		return nil, fmt.Errorf("-atlas %s needs -atlas-mask", c.atlas)
	}
	if c.scale == "" {
		c.scale = filepath.Join(filepath.Dir(c.bundle), "embedding.json")
	}
	if c.id == "" {
		c.id = filepath.Base(filepath.Clean(c.patient))
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	pred, err := fusion.Load(ctx, c.bundle, fusion.PredictorOptions{})
	if err != nil {
		return fmt.Errorf("bundle %s: %w", c.bundle, err)
	}
	scale, err := cli.LoadScale(c.scale)
	if err != nil {
		return err
	}
	at, err := cli.LoadAtlas(c.atlas, c.atlasMask)
	if err != nil {
		return err
	}
	p, err := patientFolder(c.patient, c.id)
	if err != nil {
		return err
	}
	f, err := os.Open(c.clinical)
	if err != nil {
		return fmt.Errorf("%w: %v", cli.ErrBadInput, err)
	}
	defer f.Close()
	tab, err := fusion.ReadClinical(f, fusion.StudySchema(), fusion.ReadOptions{Ignore: []string{"survival_months", "death"}, TimeUnit: survival.Months})
	if err != nil {
		return fmt.Errorf("%w: clinical table %s: %v", cli.ErrBadInput, c.clinical, err)
	}
	var rec fusion.Record
	for i, id := range tab.IDs {
		if id == c.id {
			rec = tab.Records[i]
		}
	}
	if rec == nil {
		return fmt.Errorf("%w: patient %s has no row in %s (pass -id if the folder name differs)", cli.ErrBadInput, c.id, c.clinical)
	}
	var bar *cli.Bar
	if !c.quiet {
		bar = cli.NewBar(stderr)
	}
	weights := scale.Weights
	if c.weights != "" {
		weights = c.weights
	}
	emb, err := cli.MakeEmbedder(ctx, scale.Embedder, weights, scale.Seed)
	if err != nil {
		return err
	}
	ans, err := cli.PredictFusion(ctx, pred, scale, p, rec, at, emb, cli.PredictOptions{Saliency: c.saliency != "", Bar: bar})
	bar.Done()
	if err != nil {
		return err
	}
	if sal := ans.SaliencyVolume(); sal != nil {
		if err := nifti.Save(c.saliency, sal); err != nil {
			return err
		}
		ans.SaliencyFile = c.saliency
		if c.figure != "" {
			st := ans.Stack()
			ch := 1
			if !st.Present[1] { // no T1c: draw over the first present sequence
				for s := range st.Present {
					if st.Present[s] {
						ch = s
						break
					}
				}
			}
			anat, err := st.Channel(ch)
			if err != nil {
				return err
			}
			fig, err := figures.Saliency(anat, sal, figures.SaliencyOptions{Title: fmt.Sprintf("%s: %s with occlusion saliency", p.ID, st.Names[ch])})
			if err != nil {
				return err
			}
			if err := fig.Save(c.figure); err != nil {
				return err
			}
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(ans)
}

// patientFolder reads one patient folder as ScanExport does.
func patientFolder(dir, id string) (cli.Patient, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return cli.Patient{}, fmt.Errorf("%w: patient folder: %v", cli.ErrBadInput, err)
	}
	p := cli.Patient{ID: id, Dir: dir}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		s := cli.SequenceOf(e.Name())
		if s < 0 || e.IsDir() {
			continue
		}
		if p.Files[s] != "" {
			return p, fmt.Errorf("%w: %s has two %s files, %s and %s (keep one)", cli.ErrBadInput, dir, cli.SequenceNames[s], filepath.Base(p.Files[s]), e.Name())
		}
		p.Files[s] = filepath.Join(dir, e.Name())
	}
	if p.Files == [4]string{} {
		if ok, _ := p.FromDICOM(context.Background()); ok {
			return p, nil
		}
		return p, fmt.Errorf("%w: %s holds no MRI sequence file (have %s; want NIfTI files named like t1_mprage_sag.nii.gz, t1_mprage_sag_post_gd.nii.gz, t2_tse_tra.nii.gz, t2_flair_tra.nii.gz)",
			cli.ErrBadInput, dir, strings.Join(names, ", "))
	}
	return p, nil
}
