package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/volume/dicom"
)

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestUsage(t *testing.T) {
	var out, errw bytes.Buffer
	if rc := run([]string{"-h"}, &out, &errw); rc != 0 || !strings.Contains(errw.String(), "-in DICOM_DIR -out NIFTI_DIR") {
		t.Fatalf("-h: rc %d\n%s", rc, errw.String())
	}
	if rc := run(nil, &out, &errw); rc != 2 {
		t.Fatalf("no arguments: rc %d", rc)
	}
}

// TestConvert converts a folder with one MR slice and a non-DICOM file and
// reads the NIfTI back: same voxels and affine as the library's volume,
// stored as int16 like dcm2niix, sidecar and summary present.
func TestConvert(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	copyFile(t, "../../volume/dicom/testdata/mr_small_sv1.dcm", filepath.Join(in, "A1B2C3"))
	if err := os.WriteFile(filepath.Join(in, "DICOMDIR.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"-in", in, "-out", out}, &stdout, &stderr); rc != 0 {
		t.Fatalf("rc %d\n%s\n%s", rc, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "1 written") || !strings.Contains(stdout.String(), "not a DICOM file") {
		t.Errorf("summary:\n%s", stdout.String())
	}
	img, err := nifti.LoadImage(filepath.Join(out, "001_series.nii.gz"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if img.Header.Datatype != nifti.DTInt16 {
		t.Errorf("datatype %v, want int16", img.Header.Datatype)
	}
	got, err := img.Volume(0)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := dicom.ReadDir(context.Background(), in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Dims != want.Dims {
		t.Fatalf("dims %v vs %v", got.Dims, want.Dims)
	}
	for i := range want.Data {
		if got.Data[i] != want.Data[i] {
			t.Fatalf("voxel %d: %v vs %v", i, got.Data[i], want.Data[i])
		}
	}
	for r := 0; r < 3; r++ {
		for c := 0; c < 4; c++ {
			if d := got.Affine[r][c] - want.Affine[r][c]; d > 1e-4 || d < -1e-4 {
				t.Fatalf("affine %v vs %v", got.Affine, want.Affine)
			}
		}
	}
	var side map[string]any
	b, err := os.ReadFile(filepath.Join(out, "001_series.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &side); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Modality", "EchoTime", "RepetitionTime", "SequenceGuess", "SequenceGuessReason", "ConversionSoftware"} {
		if _, ok := side[k]; !ok {
			t.Errorf("sidecar lacks %s: %s", k, b)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "summary.json")); err != nil {
		t.Error(err)
	}
	left, _ := filepath.Glob(filepath.Join(out, ".*tmp*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestRefused: two files with the same position in one series are refused
// (exit 1) and nothing is written for them.
func TestRefused(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	copyFile(t, "../../volume/dicom/testdata/mr_small.dcm", filepath.Join(in, "X1"))
	copyFile(t, "../../volume/dicom/testdata/mr_small_dcmtk_rle.dcm", filepath.Join(in, "X2"))
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"-in", in, "-out", out}, &stdout, &stderr); rc != 1 {
		t.Fatalf("rc %d\n%s", rc, stdout.String())
	}
	if !strings.Contains(stdout.String(), "refused") || !strings.Contains(stdout.String(), "share a position") {
		t.Errorf("summary:\n%s", stdout.String())
	}
	if m, _ := filepath.Glob(filepath.Join(out, "*.nii*")); len(m) != 0 {
		t.Errorf("wrote %v", m)
	}
}

// TestReferenceExports converts every case folder of a reference set made
// by volume/dicom/testdata/make_reference.py (METASURV_DICOM_REF=DIR) and
// requires each written image, read back, to equal the library's volume of
// the same series exactly (int16, uint16 and float32 outputs).
func TestReferenceExports(t *testing.T) {
	ref := os.Getenv("METASURV_DICOM_REF")
	if ref == "" || ref == "1" {
		t.Skip("set METASURV_DICOM_REF to a folder made by make_reference.py")
	}
	dirs, _ := filepath.Glob(filepath.Join(ref, "*"))
	kinds := map[nifti.Datatype]int{}
	for _, in := range dirs {
		if st, err := os.Stat(in); err != nil || !st.IsDir() || filepath.Base(in) == "truth" {
			continue
		}
		out := t.TempDir()
		var stdout, stderr bytes.Buffer
		run([]string{"-in", in, "-out", out}, &stdout, &stderr)
		res, err := dicom.Scan(context.Background(), in, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range res.Series {
			path := filepath.Join(out, s.Name+".nii.gz")
			if s.Err != nil || s.Localizer {
				if _, err := os.Stat(path); err == nil {
					t.Errorf("%s: %s written although refused or a localizer", in, s.Name)
				}
				continue
			}
			img, err := nifti.LoadImage(path, nil)
			if err != nil {
				t.Fatalf("%s: %v\n%s", in, err, stdout.String())
			}
			kinds[img.Header.Datatype]++
			got, err := img.Volume(0)
			if err != nil {
				t.Fatal(err)
			}
			want, err := s.Volume(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for i := range want.Data {
				if got.Data[i] != want.Data[i] {
					t.Fatalf("%s %s (%v): voxel %d = %v, want %v", filepath.Base(in), s.Name, img.Header.Datatype, i, got.Data[i], want.Data[i])
				}
			}
		}
	}
	t.Logf("datatypes written: %v", kinds)
}
