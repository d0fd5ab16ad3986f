package main

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/register"
	"github.com/metasurv/metasurv/volume"
)

// TestRun registers a synthetic image to a moved copy through the command
// line and checks the written matrix against the known transform.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	a := volume.Identity()
	for i := 0; i < 3; i++ {
		a[i][i], a[i][3] = 2, -31
	}
	fixed, _ := volume.New([3]int{32, 32, 32}, a)
	for k := 0; k < 32; k++ {
		for j := 0; j < 32; j++ {
			for i := 0; i < 32; i++ {
				p := a.Apply([3]float64{float64(i), float64(j), float64(k)})
				v := 100*math.Exp(-((p[0]-5)*(p[0]-5)+p[1]*p[1]+(p[2]+4)*(p[2]+4))/120) +
					70*math.Exp(-((p[0]+8)*(p[0]+8)+(p[1]-7)*(p[1]-7)+p[2]*p[2])/60) +
					50*math.Exp(-(p[0]*p[0]/30+(p[1]+10)*(p[1]+10)/200+(p[2]-9)*(p[2]-9)/80))
				fixed.Set(i, j, k, float32(v))
			}
		}
	}
	truth := register.NewRigid([3]float64{0.05, 0, -0.04}, [3]float64{1.5, -2, 1}, [3]float64{})
	g, _ := truth.Matrix().Inverse()
	moving, err := register.Resample(fixed, register.GridOf(fixed), g, volume.BSpline3, 0)
	if err != nil {
		t.Fatal(err)
	}
	fp, mp := filepath.Join(dir, "f.nii"), filepath.Join(dir, "m.nii.gz")
	if err := nifti.Save(fp, fixed); err != nil {
		t.Fatal(err)
	}
	if err := nifti.Save(mp, moving); err != nil {
		t.Fatal(err)
	}
	out, res := filepath.Join(dir, "t.json"), filepath.Join(dir, "r.nii")
	var log bytes.Buffer
	err = run([]string{"-fixed", fp, "-moving", mp, "-out", out, "-resampled", res, "-metric", "ncc", "-samples", "-1",
		"-itk", filepath.Join(dir, "t.txt"), "-mat", filepath.Join(dir, "t.mat"), "-ants", filepath.Join(dir, "ants.mat"), "-v"}, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "level 2") {
		t.Errorf("no convergence report: %q", log.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, _, err := register.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if d := m.MaxDifference(truth.Matrix()); d > 0.05 {
		t.Errorf("written matrix off the truth by %g", d)
	}
	r, err := nifti.Load(res, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Dims != fixed.Dims {
		t.Errorf("resampled dims %v, want %v", r.Dims, fixed.Dims)
	}
	if err := run([]string{"-fixed", fp}, &log); err == nil {
		t.Error("missing -moving and -out accepted")
	}
	if err := run([]string{"-fixed", fp, "-moving", mp, "-out", out, "-metric", "cc"}, &log); err == nil {
		t.Error("unknown metric accepted")
	}
}

// TestWriteFileKeepsOldOutput: a failed output write leaves the previous
// file as it was (issue 12: no write was atomic).
func TestWriteFileKeepsOldOutput(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.json")
	if err := os.WriteFile(p, []byte(`{"old":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	err := writeFile(p, func(w io.Writer) error {
		io.WriteString(w, `{"half":`)
		return errors.New("disk full")
	})
	if err == nil {
		t.Fatal("no error")
	}
	if b, _ := os.ReadFile(p); string(b) != `{"old":true}` {
		t.Fatalf("output now %q", b)
	}
}
