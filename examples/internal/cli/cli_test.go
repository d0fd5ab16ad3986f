package cli

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/synth"
	"github.com/metasurv/metasurv/survival"
	"github.com/metasurv/metasurv/volume"
)

func TestSequenceOf(t *testing.T) {
	for name, want := range map[string]int{
		"t1_mprage_sag.nii.gz": 0, "t1_mprage_sag_post_gd.nii.gz": 1, "t2_tse_tra.nii.gz": 2, "t2_flair_tra.nii.gz": 3,
		"BraTS_001_t1.nii.gz": 0, "BraTS_001_t1ce.nii.gz": 1, "BraTS_001_t2.nii": 2, "BraTS_001_flair.nii.gz": 3,
		"T1_MPRAGE_SAG_POST_CONTRAST.NII.GZ": 1, "notes.txt": -1, "t1_mprage_sag.json": -1, "localizer.nii.gz": -1,
	} {
		if got := SequenceOf(name); got != want {
			t.Errorf("%s: sequence %d, want %d", name, got, want)
		}
	}
}

func TestRidgeCoxWithoutPenaltyIsCox(t *testing.T) {
	c, _ := synth.NewCohort(synth.CohortOptions{N: 300, Seed: 2})
	var y []survival.Outcome
	var x [][]float64
	for _, p := range c.Patients {
		y = append(y, survival.Outcome{Time: p.Months, Event: p.Death})
		x = append(x, []float64{(p.TrueKPS - 80) / 10, math.Log(1 + p.TumourCC)})
	}
	beta, err := RidgeCox(y, x, 0)
	if err != nil {
		t.Fatal(err)
	}
	fit, err := survival.Cox(y, x, []string{"kps", "vol"}, survival.CoxOptions{Ties: survival.Breslow})
	if err != nil {
		t.Fatal(err)
	}
	for j := range beta {
		if math.Abs(beta[j]-fit.Coef[j]) > 1e-6 {
			t.Errorf("coefficient %d: %g, survival.Cox (Breslow) %g", j, beta[j], fit.Coef[j])
		}
	}
	shrunk, _ := RidgeCox(y, x, 50)
	if math.Abs(shrunk[0]) >= math.Abs(beta[0]) {
		t.Errorf("ridge did not shrink: %g vs %g", shrunk[0], beta[0])
	}
}

// export writes a tiny cohort and returns its folder.
func export(t *testing.T, n int) (string, *synth.Cohort) {
	dir := t.TempDir()
	c, err := synth.NewCohort(synth.CohortOptions{N: n, Seed: 3, Spacing: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Export(context.Background(), dir, synth.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	return dir, c
}

// TestBadInputFolder breaks a cohort in the three ways a hospital export
// goes wrong — a folder without sequence files, an unreadable NIfTI, a
// patient missing from the CSV — and checks that each is named while the
// other patients are embedded and cached, and that a rerun reuses them.
func TestBadInputFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("preprocesses patients")
	}
	dir, c := export(t, 9)
	// 1: no sequence files
	p0 := filepath.Join(dir, c.Patients[0].ID)
	ents, _ := os.ReadDir(p0)
	for _, e := range ents {
		os.Remove(filepath.Join(p0, e.Name()))
	}
	os.WriteFile(filepath.Join(p0, "report.pdf"), []byte("x"), 0o644)
	// 2: an unreadable NIfTI
	p1 := filepath.Join(dir, c.Patients[1].ID)
	ents, _ = os.ReadDir(p1)
	os.WriteFile(filepath.Join(p1, ents[0].Name()), []byte("not a nifti"), 0o644)
	// 3: a folder for a patient the CSV lacks
	os.MkdirAll(filepath.Join(dir, "BM9999"), 0o755)
	b, _ := os.ReadFile(filepath.Join(p0, "..", c.Patients[2].ID, synth.Protocols[1].File))
	if b == nil {
		b, _ = os.ReadFile(filepath.Join(dir, c.Patients[3].ID, synth.Protocols[1].File))
	}
	os.WriteFile(filepath.Join(dir, "BM9999", synth.Protocols[1].File), b, 0o644)

	at, err := PhantomAtlas(4)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	o := EmbedOptions{Data: dir, Out: out, Atlas: at, Target: [3]int{24, 24, 24}, Embedder: Radiomics{}, Seed: 1}
	co, err := Embed(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	msgs := joinErrs(co.Problems)
	for _, want := range []string{c.Patients[0].ID + ": no MRI sequence file", c.Patients[1].ID, "not a readable NIfTI", "BM9999 has a folder but no row"} {
		if !strings.Contains(msgs, want) {
			t.Errorf("problems %q do not mention %q", msgs, want)
		}
	}
	for _, e := range co.Problems {
		if !errors.Is(e, ErrBadInput) {
			t.Errorf("problem %v is not ErrBadInput", e)
		}
	}
	if len(co.Emb.IDs) != 7 {
		t.Fatalf("%d patients embedded, want 7", len(co.Emb.IDs))
	}
	cached, _ := filepath.Glob(filepath.Join(out, "preprocessed", "*.npy"))
	if len(cached) != 7 {
		t.Fatalf("%d patients cached, want 7", len(cached))
	}
	for _, f := range []string{"embeddings.npy", "embeddings_per_sequence.npy", "ids.txt", "umap.npy", "figure2.png", "figure2.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	// a rerun reads the cache: same embeddings
	co2, err := Embed(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range co.Emb.All {
		for j := range co.Emb.All[i] {
			a, b := co.Emb.All[i][j], co2.Emb.All[i][j]
			if a != b && !(a != a && b != b) { // NaN marks an absent sequence in both
				t.Fatalf("rerun changed patient %s feature %d", co.Emb.IDs[i], j)
			}
		}
	}
}

// TestDICOMPatientFolder: a patient folder of DICOM files (opaque names)
// is read through volume/dicom; the series is picked by its guessed
// sequence (pydicom's MR_small: TR 4000 ms, TE 240 ms → T2).
func TestDICOMPatientFolder(t *testing.T) {
	b, err := os.ReadFile("../../../volume/dicom/testdata/mr_small.dcm")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pd := filepath.Join(dir, "patient-07")
	if err := os.MkdirAll(pd, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pd, "IM0001"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	pats, probs, err := ScanExport(dir)
	if err != nil || len(probs) != 0 || len(pats) != 1 {
		t.Fatalf("patients %d, problems %v, err %v", len(pats), probs, err)
	}
	p := pats[0]
	if p.Series[2] == nil || p.Files[2] == "" || p.Files[0] != "" {
		t.Fatalf("files %q", p.Files)
	}
	seqs, err := LoadSequences(p)
	if err != nil {
		t.Fatal(err)
	}
	if seqs.T2 == nil || seqs.T2.Dims != [3]int{64, 64, 1} || seqs.T1 != nil {
		t.Fatalf("sequences %+v", seqs)
	}
}

func TestBackboneEmbedder(t *testing.T) {
	b, err := NewBackbone(context.Background(), "resnet10", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	d := [3]int{16, 16, 16}
	n := d[0] * d[1] * d[2]
	st := &volume.Stack{Dims: d, Affine: volume.Identity(), Names: SequenceNames[:], Present: []bool{true, true, true, true}, Data: make([]float32, 4*n)}
	for i := range st.Data {
		st.Data[i] = float32(math.Sin(float64(i)))
	}
	v, err := b.Embed(context.Background(), st)
	if err != nil || len(v) != b.Dim() {
		t.Fatalf("embedding of %d values (dim %d): %v", len(v), b.Dim(), err)
	}
	w, err := b.EmbedSequence(context.Background(), st, 2)
	if err != nil || len(w) != b.Dim() {
		t.Fatal(err)
	}
	same := true
	for i := range v {
		same = same && v[i] == w[i]
	}
	if same {
		t.Error("one sequence alone embeds like all four")
	}
	if _, err := NewBackbone(context.Background(), "resnet7", "", 1); err == nil {
		t.Error("unknown model accepted")
	}
	if _, err := NewBackbone(context.Background(), "resnet10", filepath.Join(t.TempDir(), "none.pth"), 1); err == nil {
		t.Error("missing weights accepted")
	}
}
