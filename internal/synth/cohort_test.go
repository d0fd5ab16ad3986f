package synth

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/survival"
	"github.com/metasurv/metasurv/volume"
)

func TestCohortIsSeededAndPrefixStable(t *testing.T) {
	a, err := NewCohort(CohortOptions{N: 12, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewCohort(CohortOptions{N: 5, Seed: 7})
	c, _ := NewCohort(CohortOptions{N: 12, Seed: 8})
	for i := range b.Patients {
		pa, pb := a.Patients[i], b.Patients[i]
		if pa.ID != pb.ID || pa.LogHazard != pb.LogHazard || !reflect.DeepEqual(pa.Lesions, pb.Lesions) || pa.Motion != pb.Motion {
			t.Fatalf("patient %d differs between cohorts of 12 and 5 with one seed", i)
		}
	}
	var ta, tc bytes.Buffer
	a.WriteClinical(&ta)
	c.WriteClinical(&tc)
	if bytes.Equal(ta.Bytes(), tc.Bytes()) {
		t.Fatal("seeds 7 and 8 gave the same clinical table")
	}
	a2, _ := NewCohort(CohortOptions{N: 12, Seed: 7})
	var ta2 bytes.Buffer
	a2.WriteClinical(&ta2)
	if !bytes.Equal(ta.Bytes(), ta2.Bytes()) {
		t.Fatal("one seed gave two clinical tables")
	}
	next, _ := NewCohort(CohortOptions{N: 2, Seed: 7, FirstID: 13})
	if next.Patients[0].ID != "BM0013" || next.Patients[0].LogHazard == a.Patients[0].LogHazard {
		t.Fatalf("FirstID 13 gave patient %s", next.Patients[0].ID)
	}
}

func TestCohortOptionsValidated(t *testing.T) {
	for _, o := range []CohortOptions{{N: -1}, {Spacing: 100}, {Spacing: -1}, {MissingShare: 2}, {FollowUp: -3}} {
		if _, err := NewCohort(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// TestCohortStatistics checks the population against the design: about
// half the patients miss a sequence, 1–10 lesions, a plausible censoring
// share, all three survival classes populated, and missing table cells.
func TestCohortStatistics(t *testing.T) {
	c, err := NewCohort(CohortOptions{N: 1000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var missSeq, missKPS, missMut, censored int
	lesions := map[int]int{}
	for _, p := range c.Patients {
		if p.Present != [4]bool{true, true, true, true} {
			missSeq++
		}
		if p.Present == [4]bool{} {
			t.Fatalf("%s has no sequence", p.ID)
		}
		if math.IsNaN(p.KPS) {
			missKPS++
		}
		if p.Histology == "lung" && p.EGFR == "" {
			missMut++
		}
		if !p.Death {
			censored++
		}
		lesions[len(p.Lesions)]++
		if len(p.Lesions) < 1 || len(p.Lesions) > 10 {
			t.Fatalf("%s has %d lesions", p.ID, len(p.Lesions))
		}
		for _, l := range p.Lesions {
			if !insideBrain(l.Centre, 0) {
				t.Fatalf("%s: lesion at %v outside the brain", p.ID, l.Centre)
			}
		}
		if p.Months <= 0 || (p.Death && math.Abs(p.Months-math.Max(p.EventMonths, 0.1)) > 0.051) {
			t.Fatalf("%s: recorded %g months, event at %g", p.ID, p.Months, p.EventMonths)
		}
	}
	if missSeq < 440 || missSeq > 560 {
		t.Errorf("%d of 1000 miss a sequence, want about half", missSeq)
	}
	if missKPS < 60 || missKPS > 140 || missMut < 70 || missMut > 140 {
		t.Errorf("missing KPS %d, mutation %d of 1000", missKPS, missMut)
	}
	if censored < 100 || censored > 400 {
		t.Errorf("%d of 1000 censored", censored)
	}
	if lesions[1] < 300 || lesions[10] == 0 {
		t.Errorf("lesion counts %v", lesions)
	}
	counts, _ := c.Classes()
	for k, n := range counts {
		if n < 150 {
			t.Errorf("class %d has %d patients of 1000: %v", k, n, counts)
		}
	}
}

// TestCohortHazardRecovered fits a Cox model on the true covariates of a
// large cohort: the coefficients must match the hazard that generated the
// times (Weibull proportional hazards, censoring independent of them).
func TestCohortHazardRecovered(t *testing.T) {
	if testing.Short() {
		t.Skip("4000-patient Cox fit")
	}
	c, err := NewCohort(CohortOptions{N: 4000, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	hist := map[string]float64{}
	for _, h := range Histologies {
		hist[h.Name] = h.Hazard
	}
	b := func(x bool) float64 {
		if x {
			return 1
		}
		return 0
	}
	var y []survival.Outcome
	var x [][]float64
	for _, p := range c.Patients {
		y = append(y, survival.Outcome{Time: p.Months, Event: p.Death})
		x = append(x, []float64{(p.TrueAge - 62) / 10, (p.TrueKPS - 80) / 10, b(p.TrueExtracranial),
			math.Log(float64(len(p.Lesions))), math.Log(1 + p.TumourCC), p.Necrosis,
			hist[p.Histology], b(p.TrueMutation), PriorTreatments[p.TruePrior].Hazard})
	}
	fit, err := survival.Cox(y, x, []string{"age", "kps", "extra", "mets", "volume", "necrosis", "histology", "mutation", "prior"}, survival.CoxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := DefaultHazard
	want := []float64{h.Age, h.KPS, h.Extracranial, h.Mets, h.Volume, h.Necrosis, 1, h.Marker, h.Prior}
	for i, w := range want {
		if d := math.Abs(fit.Coef[i] - w); d > 4*fit.SE[i]+0.02 {
			t.Errorf("%s: Cox coefficient %.3f ± %.3f, generating %.3f", fit.Names[i], fit.Coef[i], fit.SE[i], w)
		}
	}
}

// TestExportTinyCohort writes a tiny cohort and reads it back as a user's
// program would: folders, protocol file names and orientations, int16
// voxels with the lesion visible, and the clinical table with gaps.
func TestExportTinyCohort(t *testing.T) {
	c, err := NewCohort(CohortOptions{N: 4, Seed: 5, Spacing: 4})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	calls := 0
	if err := c.Export(context.Background(), dir, ExportOptions{Progress: func(d, n int) { calls++ }}); err != nil {
		t.Fatal(err)
	}
	if calls != 4 {
		t.Errorf("progress called %d times", calls)
	}
	for i, p := range c.Patients {
		for _, s := range Sequences {
			path := filepath.Join(dir, p.ID, Protocols[s].File)
			_, err := os.Stat(path)
			if p.Present[s] != (err == nil) {
				t.Fatalf("%s: present %v, stat error %v", path, p.Present[s], err)
			}
			if !p.Present[s] {
				continue
			}
			img, err := nifti.LoadImage(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if img.Header.Datatype != nifti.DTInt16 {
				t.Errorf("%s: datatype %v", path, img.Header.Datatype)
			}
			v, err := nifti.Load(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.AxCodes().String(); got != Protocols[s].Codes {
				t.Errorf("%s: orientation %s, want %s", path, got, Protocols[s].Codes)
			}
			want, _ := c.Scan(i, s)
			if !reflect.DeepEqual(v.Data, want.Data) {
				t.Errorf("%s: voxels differ from Scan", path)
			}
		}
	}
	f, err := os.Open(filepath.Join(dir, ClinicalFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := survival.ReadCSV(f, survival.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tab.Header, ClinicalHeader) || len(tab.Rows) != 4 {
		t.Fatalf("table %v with %d rows", tab.Header, len(tab.Rows))
	}
	ds, err := tab.Dataset(survival.DatasetOptions{Time: "survival_months", Event: "death", Unit: survival.Months})
	if err != nil || len(ds.Y) != 4 {
		t.Fatalf("outcomes: %v %v", ds, err)
	}
}

// TestLesionsVisible renders one patient at 2 mm without noise and checks
// each contrast at the largest lesion: the rim enhances on T1c, the core
// is dark on T1c and bright on T2, oedema is bright on FLAIR.
func TestLesionsVisible(t *testing.T) {
	c, _ := NewCohort(CohortOptions{N: 1, Seed: 2, MissingShare: -1})
	p := &c.Patients[0]
	l := p.Lesions[0]
	at := func(s Sequence, q [3]float64) float64 {
		v, err := Head(s, [3]int{1, 1, 1}, volume.Translation(q), HeadOptions{Lesions: p.Lesions, Ventricles: p.Ventricles})
		if err != nil {
			t.Fatal(err)
		}
		return float64(v.Data[0])
	}
	rimPt := l.Centre
	rimPt[0] += l.Radius * (1 + l.Necrosis) / 2
	oedPt := l.Centre
	oedPt[0] += l.Radius * (1 + l.Oedema) / 2
	if !insideBrain(oedPt, 1) {
		oedPt = l.Centre
		oedPt[0] -= l.Radius * (1 + l.Oedema) / 2
	}
	if at(T1c, rimPt) < 1.0 || at(T1, rimPt) > 0.6 {
		t.Errorf("rim: T1c %g, T1 %g", at(T1c, rimPt), at(T1, rimPt))
	}
	if at(T1c, l.Centre) > 0.3 || at(T2, l.Centre) < 0.9 {
		t.Errorf("core: T1c %g, T2 %g", at(T1c, l.Centre), at(T2, l.Centre))
	}
	if at(FLAIR, oedPt) < 0.9 {
		t.Errorf("oedema: FLAIR %g at %v", at(FLAIR, oedPt), oedPt)
	}
}
