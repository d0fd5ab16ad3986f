package nifti

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

func smallVolume(t *testing.T) *volume.Volume {
	t.Helper()
	v, err := volume.New([3]int{4, 3, 2}, volume.Identity())
	if err != nil {
		t.Fatal(err)
	}
	for i := range v.Data {
		v.Data[i] = float32(i)
	}
	return v
}

// dirNames lists dir, to check that no temporary file is left behind.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestSaveNeverLosesFiles is the regression test of issue 12: WriteFile
// created files before validating the image and removed every path on
// error — an existing a.nii, a directory named like the target, the .img
// of a pair it never created. Now a failed Save leaves every file as it
// was, and a successful one replaces the target atomically.
func TestSaveNeverLosesFiles(t *testing.T) {
	dir := t.TempDir()
	good := smallVolume(t)
	bad := smallVolume(t)
	bad.Affine[1][3] = math.Inf(1) // an Inf translation

	// An existing file survives a refused write.
	nii := filepath.Join(dir, "a.nii")
	if err := os.WriteFile(nii, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Save(nii, bad); !errors.Is(err, ErrInvalidHeader) {
		t.Fatalf("Inf translation: %v, want ErrInvalidHeader", err)
	}
	if b, _ := os.ReadFile(nii); string(b) != "precious" {
		t.Fatalf("a.nii now holds %q", b)
	}
	short := &Image{Header: Header{Version: 1, Datatype: DTFloat32, Dim: [8]int64{3, 4, 3, 2, 1, 1, 1, 1}, Pixdim: [8]float64{1, 1, 1, 1, 1, 1, 1, 1}}, Data: make([]byte, 5)}
	if err := SaveImage(nii, short, nil); !errors.Is(err, ErrInvalidHeader) {
		t.Fatalf("short data: %v, want ErrInvalidHeader", err)
	}
	if b, _ := os.ReadFile(nii); string(b) != "precious" {
		t.Fatalf("a.nii now holds %q", b)
	}

	// A directory named like the target is neither removed nor replaced.
	d := filepath.Join(dir, "out.nii.gz")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Save(d, good); err == nil {
		t.Fatal("saving over a directory succeeded")
	}
	if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
		t.Fatalf("directory gone: %v", err)
	}

	// The .img of a pair is untouched when the write is refused, and no
	// .hdr is created.
	img := filepath.Join(dir, "p.img")
	if err := os.WriteFile(img, []byte("old voxels"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Save(filepath.Join(dir, "p.hdr"), bad); err == nil {
		t.Fatal("pair with an Inf affine written")
	}
	if b, _ := os.ReadFile(img); string(b) != "old voxels" {
		t.Fatalf("p.img now holds %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "p.hdr")); !os.IsNotExist(err) {
		t.Fatalf("p.hdr created by a refused write: %v", err)
	}
	if got := dirNames(t, dir); len(got) != 3 {
		t.Fatalf("directory holds %v, want a.nii, out.nii.gz, p.img", got)
	}

	// Successful writes replace the targets.
	if err := Save(nii, good); err != nil {
		t.Fatal(err)
	}
	if err := Save(filepath.Join(dir, "p.hdr"), good); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{nii, filepath.Join(dir, "p.img")} {
		v, err := Load(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v.Data[5] != 5 {
			t.Fatalf("%s: voxel 5 is %g", p, v.Data[5])
		}
	}
	if got := dirNames(t, dir); len(got) != 4 {
		t.Fatalf("directory holds %v, want a.nii, out.nii.gz, p.hdr, p.img", got)
	}
}

// TestSaveRefusesNonFiniteGeometry checks every geometry field of a
// header written directly: NaN or Inf in srow, quatern, qoffset or pixdim.
func TestSaveRefusesNonFiniteGeometry(t *testing.T) {
	base, err := FromVolume(smallVolume(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, poison := range map[string]func(h *Header){
		"srow_x":    func(h *Header) { h.SrowX[3] = math.Inf(-1) },
		"srow_z":    func(h *Header) { h.SrowZ[0] = math.NaN() },
		"quatern_b": func(h *Header) { h.QuaternB = math.NaN() },
		"qoffset_y": func(h *Header) { h.QOffsetY = math.Inf(1) },
		"pixdim":    func(h *Header) { h.Pixdim[2] = math.NaN() },
	} {
		img := *base
		poison(&img.Header)
		p := filepath.Join(t.TempDir(), "x.nii")
		if err := SaveImage(p, &img, nil); !errors.Is(err, ErrInvalidHeader) {
			t.Errorf("%s: %v, want ErrInvalidHeader", name, err)
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: file created by a refused write", name)
		}
	}
}
