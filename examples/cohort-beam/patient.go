package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/metasurv/metasurv/examples/internal/cli"
)

// sequenceNames are the four sequences in stacking order (as norm's stack).
var sequenceNames = [4]string{"T1", "T1c", "T2", "FLAIR"}

// Patient is one unit of work: the NIfTI file of each sequence ("" where
// absent). Problem, when set, is a reason found while listing the cohort
// (no row in the clinical table, two files for one sequence, ...): the
// patient goes straight to the dead-letter output.
type Patient struct {
	ID      string
	Files   [4]string
	Problem string
}

// Manifest is the whole work list; it is the single element that the
// splittable DoFn divides among workers.
type Manifest struct {
	Patients []Patient
}

// scanFolder lists the patient sub-folders of dir (synthetic-cohort /
// hospital-export layout), sorted by id.
func scanFolder(dir string) ([]Patient, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read the cohort folder: %w", err)
	}
	var pats []Patient
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := Patient{ID: e.Name()}
		pdir := filepath.Join(dir, e.Name())
		files, err := os.ReadDir(pdir)
		if err != nil {
			p.Problem = fmt.Sprintf("cannot list the patient folder: %v", err)
			pats = append(pats, p)
			continue
		}
		for _, f := range files {
			s := cli.SequenceOf(f.Name())
			if s < 0 || f.IsDir() {
				continue
			}
			if p.Files[s] != "" {
				p.Problem = fmt.Sprintf("two %s files, %s and %s (keep one)", sequenceNames[s], filepath.Base(p.Files[s]), f.Name())
				continue
			}
			p.Files[s] = filepath.Join(pdir, f.Name())
		}
		if p.Files == [4]string{} && p.Problem == "" {
			p.Problem = "no MRI sequence file (want NIfTI files named like t1_mprage_sag.nii.gz, t1_mprage_sag_post_gd.nii.gz, t2_tse_tra.nii.gz, t2_flair_tra.nii.gz)"
		}
		pats = append(pats, p)
	}
	if len(pats) == 0 {
		return nil, fmt.Errorf("%s holds no patient folders", dir)
	}
	return pats, nil
}

// readManifest reads a CSV with the columns id,t1,t1c,t2,flair (paths
// relative to the CSV's folder; empty for an absent sequence).
func readManifest(path string) ([]Patient, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("manifest %s: no header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	keys := []string{"t1", "t1c", "t2", "flair"}
	if _, ok := col["id"]; !ok {
		return nil, fmt.Errorf("manifest %s: no id column (want id,t1,t1c,t2,flair)", path)
	}
	for _, k := range keys {
		if _, ok := col[k]; !ok {
			return nil, fmt.Errorf("manifest %s: no %s column (want id,t1,t1c,t2,flair)", path, k)
		}
	}
	base := filepath.Dir(path)
	var pats []Patient
	seen := map[string]bool{}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", path, err)
		}
		p := Patient{ID: strings.TrimSpace(rec[col["id"]])}
		if p.ID == "" || strings.ContainsAny(p.ID, `/\`) || p.ID == "." || p.ID == ".." {
			return nil, fmt.Errorf("manifest %s line %d: id %q is not a usable folder name", path, line, p.ID)
		}
		if seen[p.ID] {
			return nil, fmt.Errorf("manifest %s line %d: patient %s listed twice", path, line, p.ID)
		}
		seen[p.ID] = true
		for s, k := range keys {
			v := strings.TrimSpace(rec[col[k]])
			if v != "" && !filepath.IsAbs(v) {
				v = filepath.Join(base, v)
			}
			p.Files[s] = v
		}
		pats = append(pats, p)
	}
	return pats, nil
}

// clinicalIDs reads the id column of a clinical CSV and, when present,
// survival_months and death (for colouring Figure 2 by survival class).
func clinicalIDs(path string) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("clinical table %s: no header: %w", path, err)
	}
	idc, tc, ec := -1, -1, -1
	for i, h := range head {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "id":
			idc = i
		case "survival_months":
			tc = i
		case "death":
			ec = i
		}
	}
	if idc < 0 {
		return nil, fmt.Errorf("clinical table %s: no id column", path)
	}
	out := map[string]int{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("clinical table %s: %w", path, err)
		}
		cls := 3 // unknown
		if tc >= 0 && ec >= 0 {
			var t float64
			var e int
			_, err1 := fmt.Sscan(rec[tc], &t)
			_, err2 := fmt.Sscan(rec[ec], &e)
			if err1 == nil && err2 == nil {
				switch {
				case t < 6 && e == 1:
					cls = 0
				case t >= 21:
					cls = 2
				case t >= 6 && e == 1:
					cls = 1
				}
			}
		}
		out[strings.TrimSpace(rec[idc])] = cls
	}
}

// listCohort builds the manifest: patients from a folder or a manifest CSV,
// checked against the clinical table when one is given (a patient without
// a row gets a Problem; a row without images is reported too).
func listCohort(data, manifest, clinical string) (*Manifest, map[string]int, error) {
	var pats []Patient
	var err error
	switch {
	case manifest != "":
		pats, err = readManifest(manifest)
	case data != "":
		pats, err = scanFolder(data)
	default:
		return nil, nil, errors.New("one of -data or -manifest is required")
	}
	if err != nil {
		return nil, nil, err
	}
	var classes map[string]int
	if clinical != "" {
		classes, err = clinicalIDs(clinical)
		if err != nil {
			return nil, nil, err
		}
		have := map[string]bool{}
		for i := range pats {
			have[pats[i].ID] = true
			if _, ok := classes[pats[i].ID]; !ok && pats[i].Problem == "" {
				pats[i].Problem = fmt.Sprintf("no row in the clinical table %s", filepath.Base(clinical))
			}
		}
		for id := range classes {
			if !have[id] {
				pats = append(pats, Patient{ID: id, Problem: "listed in the clinical table but has no image folder"})
			}
		}
	}
	sort.Slice(pats, func(a, b int) bool { return pats[a].ID < pats[b].ID })
	return &Manifest{Patients: pats}, classes, nil
}
