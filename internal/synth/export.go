package synth

import (
	"context"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/metasurv/metasurv/internal/atomicfile"
	"github.com/metasurv/metasurv/internal/parallel"
	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/volume"
)

// Files of a hospital export at the top of the cohort folder.
const (
	ClinicalFile = "clinical.csv" // the clinical table, one row per patient
	TruthFile    = "truth.csv"    // the generating truth (not part of a real export)
)

// ClinicalHeader is the header of the clinical table: the columns of
// fusion.StudySchema (id, age, KPS, histology, extracranial disease, number
// of metastases as 1 / 2-4 / >4, prior treatment, EGFR, ALK and BRAF
// status) and the outcome. Times are in months; death is 1 for an observed
// death and 0 for a censored follow-up.
var ClinicalHeader = []string{
	"id", "age", "kps", "histology", "extracranial", "n_mets",
	"prior_treatment", "egfr", "alk", "braf", "survival_months", "death",
}

// TruthHeader is the header of the truth table.
var TruthHeader = []string{
	"id", "log_hazard", "event_months", "censor_months", "tumour_cc",
	"necrotic_fraction", "n_lesions", "age", "kps", "extracranial", "mutation",
	"prior_treatment", "missing_sequences",
}

// ExportOptions tunes Export. The zero value writes every patient.
type ExportOptions struct {
	// Progress, if set, is called after each patient with the number done
	// and the total.
	Progress func(done, total int)
	// Compression is the gzip level of the NIfTI files (zero: 1, fast).
	Compression int
	// Workers is the number of patients written at once (zero: 2):
	// rendering is parallel but compression is not, so two patients keep
	// two cores busy. The files do not depend on it.
	Workers int
}

// Export writes the cohort as a hospital would export it: dir/<patient>/
// holds one gzipped NIfTI per acquired sequence, named by its protocol
// (Protocols), as 16-bit integers with the scanner's arbitrary scale;
// dir/clinical.csv holds the clinical table (missing values as empty
// cells) and dir/truth.csv the generating truth for checks. Every file is
// written atomically, so an interrupted export leaves complete files only;
// the tables are written last.
func (c *Cohort) Export(ctx context.Context, dir string, o ExportOptions) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	level := o.Compression
	if level == 0 {
		level = 1
	}
	workers := o.Workers
	if workers <= 0 {
		workers = 2
	}
	var mu sync.Mutex // guards done and calls Progress one at a time
	done := 0
	err := parallel.Each(ctx, len(c.Patients), workers, func(i int) error {
		if err := c.exportPatient(dir, i, level); err != nil {
			return err
		}
		if o.Progress != nil {
			mu.Lock()
			done++
			o.Progress(done, len(c.Patients))
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, ClinicalFile), c.WriteClinical); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, TruthFile), c.WriteTruth); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

// exportPatient writes patient i's folder.
func (c *Cohort) exportPatient(dir string, i, level int) error {
	p := &c.Patients[i]
	pdir := filepath.Join(dir, p.ID)
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	for _, s := range Sequences {
		v, err := c.Scan(i, s)
		if err != nil {
			return fmt.Errorf("synth: patient %s %s: %w", p.ID, s, err)
		}
		if v == nil {
			continue
		}
		if err := SaveInt16(filepath.Join(pdir, Protocols[s].File), v, level); err != nil {
			return fmt.Errorf("synth: patient %s %s: %w", p.ID, s, err)
		}
	}
	return nil
}

// SaveInt16 writes v atomically as a NIfTI-1 of int16 voxels (values are
// rounded and clamped), the datatype most scanners export; level is the
// gzip level when path ends in .gz.
func SaveInt16(path string, v *volume.Volume, level int) error {
	img, err := nifti.FromVolume(v)
	if err != nil {
		return err
	}
	img.Header.Datatype = nifti.DTInt16
	img.Header.Bitpix = 16
	data := make([]byte, 2*len(v.Data))
	for i, x := range v.Data {
		r := math.Round(float64(x))
		r = math.Max(math.MinInt16, math.Min(math.MaxInt16, r))
		binary.LittleEndian.PutUint16(data[2*i:], uint16(int16(r)))
	}
	img.Data = data
	opts := &nifti.WriteOptions{Compress: filepath.Ext(path) == ".gz", Level: level}
	return atomicfile.Write(path, func(w io.Writer) error { return nifti.Write(w, img, opts) })
}

func fmtNum(x float64) string {
	if math.IsNaN(x) {
		return ""
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

// WriteClinical writes the clinical table as CSV.
func (c *Cohort) WriteClinical(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(ClinicalHeader)
	for _, p := range c.Patients {
		death := "0"
		if p.Death {
			death = "1"
		}
		cw.Write([]string{p.ID, fmtNum(p.Age), fmtNum(p.KPS), p.Histology, p.Extracranial,
			p.NMets, p.PriorTreatment, p.EGFR, p.ALK, p.BRAF, fmtNum(p.Months), death})
	}
	cw.Flush()
	return cw.Error()
}

// WriteTruth writes the generating truth as CSV.
func (c *Cohort) WriteTruth(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(TruthHeader)
	b := func(x bool) string {
		if x {
			return "1"
		}
		return "0"
	}
	for _, p := range c.Patients {
		miss := ""
		for _, s := range Sequences {
			if !p.Present[s] {
				if miss != "" {
					miss += ";"
				}
				miss += s.String()
			}
		}
		f := func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
		cw.Write([]string{p.ID, f(p.LogHazard), f(p.EventMonths), f(p.CensorMonths), f(p.TumourCC),
			f(p.Necrosis), strconv.Itoa(len(p.Lesions)), f(p.TrueAge), f(p.TrueKPS),
			b(p.TrueExtracranial), b(p.TrueMutation), PriorTreatments[p.TruePrior].Name, miss})
	}
	cw.Flush()
	return cw.Error()
}
