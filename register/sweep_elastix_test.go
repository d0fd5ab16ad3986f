package register

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/metasurv/metasurv/nifti"
)

// elastixParams is the committed standard rigid Mattes-MI parameter file.
const elastixParams = "testdata/elastix-rigid-mattes.txt"

// runElastix registers the pair of case c with elastix (found on PATH or
// at $METASURV_ELASTIX) using elastixParams and two threads, and returns
// its mean displacement error over the brain, its wall time (reading the
// two uncompressed NIfTI files included, as elastix must) and a note when
// it failed. The images are written before the clock starts.
func runElastix(t *testing.T, c sweepCase, p sweepPair) (float64, float64, string) {
	t.Helper()
	bin := os.Getenv("METASURV_ELASTIX")
	if bin == "" {
		bin = "elastix"
	}
	dir := t.TempDir()
	fp, mp := filepath.Join(dir, "fixed.nii"), filepath.Join(dir, "moving.nii")
	if err := nifti.Save(fp, p.fixed); err != nil {
		t.Fatal(err)
	}
	if err := nifti.Save(mp, p.moving); err != nil {
		t.Fatal(err)
	}
	params, err := filepath.Abs(elastixParams)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", fp, "-m", mp, "-p", params, "-out", out, "-threads", "2")
	start := time.Now()
	log, err := cmd.CombinedOutput()
	secs := time.Since(start).Seconds()
	if err != nil {
		t.Logf("%s: elastix failed: %v\n%s", c.name, err, tail(log, 2000))
		return math.NaN(), secs, "failed"
	}
	f, err := os.Open(filepath.Join(out, "TransformParameters.0.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := ReadElastix(f)
	if err != nil {
		t.Fatal(err)
	}
	return meanDisplacementError(tr.Matrix(), p.truth, p.brain), secs, ""
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
