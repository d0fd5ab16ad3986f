package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/metasurv/metasurv/internal/atomicfile"
	"github.com/metasurv/metasurv/internal/npy"
	"github.com/metasurv/metasurv/internal/parallel"
	"github.com/metasurv/metasurv/internal/synth"
	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/norm"
	"github.com/metasurv/metasurv/volume"
)

// Atlas is the template every patient is registered to, with its brain
// mask.
type Atlas struct {
	Image *volume.Volume
	Mask  *volume.Mask
}

// PhantomAtlas is the synthetic head (T1 contrast, no lesion) on a RAS grid
// of the given spacing in mm, with its brain mask: the atlas of the
// synthetic cohorts.
func PhantomAtlas(spacing float64) (*Atlas, error) {
	dims, a, err := synth.Grid([3]float64{180, 216, 180}, [3]float64{spacing, spacing, spacing}, "RAS")
	if err != nil {
		return nil, err
	}
	none := synth.HeadOptions{Lesions: []synth.Lesion{}}
	img, err := synth.Head(synth.T1, dims, a, none)
	if err != nil {
		return nil, err
	}
	m, err := synth.BrainMask(dims, a, none)
	if err != nil {
		return nil, err
	}
	return &Atlas{Image: img, Mask: m}, nil
}

// LoadAtlas reads an atlas image and its brain mask (nonzero voxels) from
// NIfTI files; "phantom" for the image selects PhantomAtlas at 2 mm.
func LoadAtlas(image, mask string) (*Atlas, error) {
	if image == "" || image == "phantom" {
		return PhantomAtlas(2)
	}
	img, err := nifti.Load(image, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: atlas %s: %v", ErrBadInput, image, err)
	}
	at := &Atlas{Image: img}
	if mask != "" {
		mv, err := nifti.Load(mask, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: atlas mask %s: %v", ErrBadInput, mask, err)
		}
		if mv.Dims != img.Dims {
			return nil, fmt.Errorf("%w: atlas mask %v and atlas %v grids differ", ErrBadInput, mv.Dims, img.Dims)
		}
		m, _ := volume.NewMask(mv.Dims)
		for i, v := range mv.Data {
			m.Data[i] = v != 0
		}
		at.Mask = m
	}
	return at, nil
}

// PrepOptions configure Preprocess.
type PrepOptions struct {
	// Cache is the folder of preprocessed stacks (<id>.npy + <id>.json);
	// patients already there are not preprocessed again. Empty: no cache.
	Cache string
	// Target is the model grid (zero: 96³).
	Target [3]int
	// Require lists sequences whose absence is an error (else zero-filled).
	Require []int
	// Effort is the registration effort (zero: norm's default).
	Effort Effort
	// Workers is the number of patients preprocessed at once (zero: 2).
	// Registration alone keeps two cores only about half busy, so two
	// patients at a time nearly halve the wall time; the results do not
	// depend on it.
	Workers int
	Bar     *Bar
}

// Effort trades registration accuracy for time: the random samples per
// pyramid level and the histogram bins of Mattes MI. The zero value is
// norm.DefaultRegistration (100 000 samples, 128 bins), meant for real
// scans. It is stored beside a trained model (embedding.json) so that a
// new patient is preprocessed as the training patients were.
type Effort struct {
	Samples int `json:"samples,omitempty"`
	Bins    int `json:"bins,omitempty"`
}

// QuickEffort is the quickstart's registration effort: 20 000 samples and
// 64 bins take about a third of the default's time, and on the synthetic
// cohorts (whose noise-free anatomy has few, sharp edges) the mean
// displacement error over the brain stays that of the default (median
// about 1.6–2 mm with the head-size scaling rigid registration cannot
// undo).
var QuickEffort = Effort{Samples: 20000, Bins: 64}

// options returns the norm options of this effort.
func (e Effort) options(at *Atlas, target [3]int) norm.Options {
	reg := norm.DefaultRegistration()
	if e.Samples > 0 {
		reg.Sampling.Count = e.Samples
	}
	if e.Bins > 0 {
		reg.Bins = e.Bins
	}
	return norm.Options{AtlasMask: at.Mask, Missing: norm.MissingZeroFill, Target: target, Registration: &reg}
}

// PatientError is a problem with one patient; the others go on.
type PatientError struct {
	ID  string
	Err error
}

func (e *PatientError) Error() string { return e.ID + ": " + e.Err.Error() }
func (e *PatientError) Unwrap() error { return e.Err }

// Preprocess turns each patient's raw sequences into the model input with
// norm.Preprocess (registration to the atlas, brain mask, 96³, z-score,
// missing sequences zero-filled), reusing and filling the cache, o.Workers
// patients at a time. It returns the stacks of the patients that
// succeeded (nil for the others) and one PatientError per failure, in
// patient order; it stops early only when ctx ends.
func Preprocess(ctx context.Context, pats []Patient, at *Atlas, o PrepOptions) ([]*volume.Stack, []*PatientError, error) {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Cache != "" {
		if err := os.MkdirAll(o.Cache, 0o755); err != nil {
			return nil, nil, err
		}
	}
	stacks := make([]*volume.Stack, len(pats))
	fails := make([]*PatientError, len(pats))
	var done atomic.Int64
	err := parallel.Each(ctx, len(pats), o.Workers, func(i int) error {
		var err error
		stacks[i], fails[i], err = preprocessOne(ctx, pats[i], at, o)
		d := done.Add(1)
		o.Bar.Update("preprocess", float64(d)/float64(len(pats)), fmt.Sprintf("%d/%d patients", d, len(pats)))
		return err
	})
	var out []*PatientError
	for _, f := range fails {
		if f != nil {
			out = append(out, f)
		}
	}
	return stacks, out, err
}

// preprocessOne preprocesses one patient (or reads the cache); a problem
// with the patient's data is a PatientError, a failure to write the cache
// or a cancelled ctx an error.
func preprocessOne(ctx context.Context, p Patient, at *Atlas, o PrepOptions) (*volume.Stack, *PatientError, error) {
	if o.Cache != "" {
		if st, err := ReadStack(filepath.Join(o.Cache, p.ID)); err == nil {
			return st, nil, nil
		}
	}
	for _, s := range o.Require {
		if p.Files[s] == "" {
			return nil, &PatientError{p.ID, fmt.Errorf("%w: required sequence %s has no file in %s", ErrBadInput, SequenceNames[s], p.Dir)}, nil
		}
	}
	seqs, err := LoadSequences(p)
	if err != nil {
		return nil, &PatientError{p.ID, err}, nil
	}
	st, _, err := norm.Preprocess(ctx, seqs, at.Image, o.Effort.options(at, o.Target))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, &PatientError{p.ID, fmt.Errorf("preprocessing failed: %w", err)}, nil
	}
	if o.Cache != "" {
		if err := WriteStack(filepath.Join(o.Cache, p.ID), st); err != nil {
			return nil, nil, err
		}
	}
	return st, nil, nil
}

// stackMeta is the JSON sidecar of a cached stack.
type stackMeta struct {
	Dims    [3]int
	Affine  volume.Affine
	Names   []string
	Present []bool
}

// WriteStack writes a stack as base.npy (C×D×H×W float32) and base.json
// (grid and channel names), atomically, the JSON last.
func WriteStack(base string, st *volume.Stack) error {
	sh := st.Shape()
	err := atomicfile.Write(base+".npy", func(w io.Writer) error {
		return npy.Write(w, []int{sh[0], sh[1], sh[2], sh[3]}, st.Data)
	})
	if err != nil {
		return err
	}
	b, _ := json.Marshal(stackMeta{st.Dims, st.Affine, st.Names, st.Present})
	return atomicfile.WriteFile(base+".json", b)
}

// ReadStack reads a stack written by WriteStack.
func ReadStack(base string) (*volume.Stack, error) {
	b, err := os.ReadFile(base + ".json")
	if err != nil {
		return nil, err
	}
	var m stackMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	a, err := npy.ReadFile(base + ".npy")
	if err != nil {
		return nil, err
	}
	data, err := a.Float32()
	if err != nil {
		return nil, err
	}
	n := len(m.Names) * m.Dims[0] * m.Dims[1] * m.Dims[2]
	if len(data) != n || len(m.Present) != len(m.Names) {
		return nil, errors.New("cached stack does not match its description")
	}
	return &volume.Stack{Dims: m.Dims, Affine: m.Affine, Names: m.Names, Present: m.Present, Data: data}, nil
}
