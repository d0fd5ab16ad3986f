package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/npy"
	"github.com/metasurv/metasurv/internal/synth"
	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/norm"
	"github.com/metasurv/metasurv/register"
	"github.com/metasurv/metasurv/volume"
)

// writePatient writes a synthetic atlas (T1 phantom, RAS, 3 mm), its brain
// mask (synth's brain ellipsoid) and three moved sequences (no FLAIR).
func writePatient(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	save := func(name string, v *volume.Volume) {
		p := filepath.Join(dir, name+".nii.gz")
		if err := nifti.Save(p, v); err != nil {
			t.Fatal(err)
		}
		files[name] = p
	}
	dims, aff, err := synth.Grid([3]float64{168, 200, 176}, [3]float64{3, 3, 3}, "RAS")
	if err != nil {
		t.Fatal(err)
	}
	atlas, err := synth.Head(synth.T1, dims, aff, synth.HeadOptions{LesionRadius: -1})
	if err != nil {
		t.Fatal(err)
	}
	save("atlas", atlas)
	mask, _ := volume.New(dims, aff)
	for idx := range mask.Data {
		i, j, k := idx%dims[0], (idx/dims[0])%dims[1], idx/(dims[0]*dims[1])
		p := aff.Apply([3]float64{float64(i), float64(j), float64(k)})
		x, y, z := p[0]/62, p[1]/80, (p[2]-4)/64
		if x*x+y*y+z*z <= 1 {
			mask.Data[idx] = 1
		}
	}
	save("mask", mask)
	for c, codes := range []string{"LPS", "RAS", "PIL"} {
		d, a, err := synth.Grid([3]float64{210, 240, 210}, [3]float64{2.5, 2.5, 3}, codes)
		if err != nil {
			t.Fatal(err)
		}
		ang := float64(c+1) * 2 * math.Pi / 180
		m := register.NewRigid([3]float64{ang, -ang, ang / 2}, [3]float64{float64(3 * c), -4, 2}, [3]float64{}).Matrix()
		v, err := synth.Head(synth.Sequences[c], d, a, synth.HeadOptions{Motion: m, Bias: 0.1, Noise: 0.01, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		save(synth.Sequences[c].String(), v)
	}
	return files
}

func TestPreprocessCommand(t *testing.T) {
	dir := t.TempDir()
	f := writePatient(t, dir)
	keep := filepath.Join(dir, "keep")
	base := []string{"-t1", f["T1"], "-t1c", f["T1c"], "-t2", f["T2"], "-atlas", f["atlas"], "-atlas-mask", f["mask"], "-size", "32"}
	var out, logw bytes.Buffer
	if err := run(context.Background(), append(base, "-out", filepath.Join(dir, "x.npy")), &out, &logw); err == nil || !strings.Contains(err.Error(), "FLAIR") {
		t.Fatalf("missing FLAIR under -missing error: %v", err)
	}
	out.Reset()
	npyPath := filepath.Join(dir, "stack.npy")
	args := append(base, "-missing", "zero", "-keep", keep, "-out", npyPath, "-v")
	if err := run(context.Background(), args, &out, &logw); err != nil {
		t.Fatal(err, logw.String())
	}
	var rep norm.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out.String())
	}
	if rep.Hub != "T1c" || len(rep.Missing) != 1 || rep.Missing[0] != "FLAIR" || rep.Shape != [4]int{4, 32, 32, 32} {
		t.Fatalf("report hub %q missing %v shape %v", rep.Hub, rep.Missing, rep.Shape)
	}
	if rep.Sequences[0].AtlasToImage == nil || rep.Sequences[0].ToHub == nil || rep.Atlas.Cost >= 0 {
		t.Fatalf("report lacks transforms: %+v", rep.Sequences[0])
	}
	a, err := npy.ReadFile(npyPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Shape) != 4 || a.Shape[0] != 4 || a.Shape[1] != 32 {
		t.Fatalf("npy shape %v", a.Shape)
	}
	for _, name := range []string{"T1_reoriented", "T1c_n4", "T2_atlas", "mask", "T1_final"} {
		if _, err := os.Stat(filepath.Join(keep, name+".nii.gz")); err != nil {
			t.Errorf("intermediate %s not kept: %v", name, err)
		}
	}
	// the same run to a 4-D NIfTI
	niiPath := filepath.Join(dir, "stack.nii.gz")
	out.Reset()
	if err := run(context.Background(), append(base, "-missing", "zero", "-no-n4", "-metric", "nmi", "-out", niiPath), &out, &logw); err != nil {
		t.Fatal(err)
	}
	img, err := nifti.LoadImage(niiPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if img.Header.Dim[0] != 4 || img.Header.Dim[4] != 4 || img.Header.Dim[1] != 32 {
		t.Fatalf("NIfTI dims %v", img.Header.Dim)
	}
	flair, err := img.Volume(3)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range flair.Data {
		if v != 0 {
			t.Fatal("missing FLAIR channel is not zero in the NIfTI")
		}
	}
}

func TestPreprocessFlags(t *testing.T) {
	var out, logw bytes.Buffer
	for _, args := range [][]string{
		{},
		{"-atlas", "a.nii", "-out", "o.npy", "-missing", "maybe"},
		{"-atlas", "a.nii", "-out", "o.npy", "-metric", "ncc"},
		{"-atlas", "a.nii", "-out", "o.npy", "-size", "0"},
		{"-atlas", "/nonexistent.nii", "-out", "o.npy"},
	} {
		if err := run(context.Background(), args, &out, &logw); err == nil {
			t.Errorf("args %v accepted", args)
		}
	}
}
