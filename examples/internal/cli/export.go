package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/norm"
	"github.com/metasurv/metasurv/volume"
	"github.com/metasurv/metasurv/volume/dicom"
)

// SequenceNames are the four sequences in stacking order.
var SequenceNames = [4]string{"T1", "T1c", "T2", "FLAIR"}

// ErrBadInput marks a problem with the user's data folder (as opposed to a
// failure of the machine or a bug), so commands can say what to fix.
var ErrBadInput = errors.New("bad input")

// Patient is one patient folder of a hospital export: the NIfTI file of
// each sequence, "" where the sequence is absent. A folder of DICOM files
// (a PACS export, any file names) has instead the series guessed for each
// sequence in Series, Files naming them for messages, and Notes saying how
// they were chosen (for a person to check).
type Patient struct {
	ID     string
	Dir    string
	Files  [4]string
	Series [4]*dicom.Series
	Notes  []string
}

// FromDICOM fills p from the DICOM files under p.Dir: every series is
// found and checked (volume/dicom), and the one guessed as each sequence
// (dicom.SelectSequences: description and timing; originals, 3-D and finer
// voxels first) is taken. It reports whether any sequence was found.
func (p *Patient) FromDICOM(ctx context.Context) (bool, error) {
	res, err := dicom.Scan(ctx, p.Dir, nil)
	if err != nil {
		return false, err
	}
	sel := dicom.SelectSequences(res.Series)
	found := false
	for s, label := range dicom.Contrasts {
		if se := sel.Series[label]; se != nil {
			p.Series[s] = se
			p.Files[s] = filepath.Join(p.Dir, se.Name+" (DICOM series)")
			found = true
		}
	}
	p.Notes = sel.Notes
	for _, se := range res.Series {
		if se.Err != nil {
			p.Notes = append(p.Notes, fmt.Sprintf("DICOM series %s refused: %v", se.Name, se.Err))
		}
	}
	return found, nil
}

// Missing lists the absent sequences.
func (p Patient) Missing() []string {
	var m []string
	for s, f := range p.Files {
		if f == "" {
			m = append(m, SequenceNames[s])
		}
	}
	return m
}

// SequenceOf recognises the sequence of a NIfTI file from its name as
// scanners and converters write them: "t1_mprage_sag" is T1,
// "t1_mprage_sag_post_gd" (or any T1 name with a post/gd/gad/ce/contrast
// token, BraTS's "t1ce", "t1c", "t1gd") is T1c, "t2_tse_tra" T2 and
// anything with "flair" FLAIR. It returns −1 for other files and for
// names that are not NIfTI.
func SequenceOf(name string) int {
	low := strings.ToLower(name)
	stem := ""
	for _, ext := range []string{".nii.gz", ".nii", ".hdr.gz", ".hdr"} {
		if strings.HasSuffix(low, ext) {
			stem = strings.TrimSuffix(low, ext)
			break
		}
	}
	if stem == "" {
		return -1
	}
	tokens := strings.FieldsFunc(stem, func(r rune) bool { return r == '_' || r == '-' || r == '.' || r == ' ' })
	has := func(ws ...string) bool {
		for _, t := range tokens {
			for _, w := range ws {
				if t == w {
					return true
				}
			}
		}
		return false
	}
	switch {
	case strings.Contains(stem, "flair"):
		return 3
	case has("t1ce", "t1c", "t1gd", "t1post"):
		return 1
	case strings.Contains(stem, "t2"):
		return 2
	case strings.Contains(stem, "t1") || strings.Contains(stem, "mprage") || strings.Contains(stem, "spgr"):
		if has("post", "gd", "gad", "ce", "contrast", "c+", "postcontrast") {
			return 1
		}
		return 0
	}
	return -1
}

// ScanExport lists the patient folders of dir (every sub-folder holding
// at least one recognised NIfTI file, sorted by name) and the problems
// found: a folder with no recognised sequence, or two files for one
// sequence. Problems are errors wrapping ErrBadInput that name the folder
// and the files.
func ScanExport(dir string) ([]Patient, []error, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: cannot read the data folder: %v", ErrBadInput, err)
	}
	var pats []Patient
	var probs []error
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := Patient{ID: e.Name(), Dir: filepath.Join(dir, e.Name())}
		files, err := os.ReadDir(p.Dir)
		if err != nil {
			probs = append(probs, fmt.Errorf("%w: patient %s: %v", ErrBadInput, p.ID, err))
			continue
		}
		var seen []string
		bad := false
		for _, f := range files {
			if f.IsDir() {
				continue
			}
			s := SequenceOf(f.Name())
			if s < 0 {
				continue
			}
			seen = append(seen, f.Name())
			if p.Files[s] != "" {
				probs = append(probs, fmt.Errorf("%w: patient %s has two %s files, %s and %s (keep one)",
					ErrBadInput, p.ID, SequenceNames[s], filepath.Base(p.Files[s]), f.Name()))
				bad = true
				continue
			}
			p.Files[s] = filepath.Join(p.Dir, f.Name())
		}
		if len(seen) == 0 {
			if ok, _ := p.FromDICOM(context.Background()); ok {
				pats = append(pats, p)
				continue
			}
			names := make([]string, 0, len(files))
			for _, f := range files {
				names = append(names, f.Name())
			}
			probs = append(probs, fmt.Errorf("%w: patient %s: no MRI sequence file found (have %s; want NIfTI files named like t1_mprage_sag.nii.gz, t1_mprage_sag_post_gd.nii.gz, t2_tse_tra.nii.gz, t2_flair_tra.nii.gz, or DICOM files of T1/T1c/T2/FLAIR series)",
				ErrBadInput, p.ID, orNone(names)))
			continue
		}
		if !bad {
			pats = append(pats, p)
		}
	}
	sort.Slice(pats, func(a, b int) bool { return pats[a].ID < pats[b].ID })
	if len(pats) == 0 && len(probs) == 0 {
		return nil, nil, fmt.Errorf("%w: %s holds no patient folders (want one sub-folder of NIfTI files per patient)", ErrBadInput, dir)
	}
	return pats, probs, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no files"
	}
	return strings.Join(s, ", ")
}

// LoadSequences reads a patient's NIfTI files or DICOM series; an
// unreadable file is an error wrapping ErrBadInput naming the patient and
// the file.
func LoadSequences(p Patient) (norm.Sequences, error) {
	var v [4]*volume.Volume
	for s, f := range p.Files {
		if f == "" {
			continue
		}
		if se := p.Series[s]; se != nil {
			vol, err := se.Volume(context.Background())
			if err != nil {
				return norm.Sequences{}, fmt.Errorf("%w: patient %s: DICOM series %s: %v", ErrBadInput, p.ID, se.Name, err)
			}
			v[s] = vol
			continue
		}
		vol, err := nifti.Load(f, nil)
		if err != nil {
			return norm.Sequences{}, fmt.Errorf("%w: patient %s: %s is not a readable NIfTI image: %v", ErrBadInput, p.ID, filepath.Base(f), err)
		}
		v[s] = vol
	}
	return norm.Sequences{T1: v[0], T1c: v[1], T2: v[2], FLAIR: v[3]}, nil
}
