package nifti

import (
	"bytes"
	"compress/gzip"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
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

// TestReadBudget is the regression test of issue 12's memory budget: a
// reader's limit counts the compressed input, the decoded bytes and, for
// Load, the float32 voxels, and refuses before allocating them.
func TestReadBudget(t *testing.T) {
	dir := t.TempDir()
	v, _ := volume.New([3]int{40, 40, 40}, volume.Identity()) // 64000 voxels
	img, err := FromVolume(v)
	if err != nil {
		t.Fatal(err)
	}
	img.Header.Datatype, img.Header.Bitpix = DTUint8, 8
	img.Data = make([]byte, 64000)
	raw, gz := filepath.Join(dir, "u8.nii"), filepath.Join(dir, "u8.nii.gz")
	for _, p := range []string{raw, gz} {
		if err := SaveImage(p, img, nil); err != nil {
			t.Fatal(err)
		}
	}
	const decoded = 352 + 64000 // header + extender, voxels
	for _, p := range []string{raw, gz} {
		// LoadImage keeps the uint8 voxels: a budget just above the
		// decoded size (plus the compressed input for .gz) is enough.
		fi, _ := os.Stat(p)
		input := int64(0)
		if p == gz {
			input = fi.Size()
		}
		if _, err := LoadImage(p, &ReadOptions{MaxBytes: decoded + input}); err != nil {
			t.Errorf("%s: LoadImage within budget: %v", p, err)
		}
		if _, err := LoadImage(p, &ReadOptions{MaxBytes: decoded + input - 1}); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: LoadImage one byte over budget: %v, want ErrTooLarge", p, err)
		}
		// Load also converts to float32: 4 bytes more per voxel.
		if _, err := Load(p, &ReadOptions{MaxBytes: decoded + input + 4*64000 - 1}); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: Load with no room for float32: %v, want ErrTooLarge", p, err)
		}
		if _, err := Load(p, &ReadOptions{MaxBytes: decoded + input + 4*64000}); err != nil {
			t.Errorf("%s: Load within budget: %v", p, err)
		}
		if _, err := Load(p, nil); err != nil {
			t.Errorf("%s: Load with the default budget: %v", p, err)
		}
	}
}

// TestHostileHeaderRefusedBeforeAllocating writes a tiny .nii.gz whose
// header declares 512³ float32 voxels (512 MiB, 2 GiB+ once Load adds the
// float32 copy) and checks that reading it under a budget refuses with
// ErrTooLarge having allocated almost nothing.
func TestHostileHeaderRefusedBeforeAllocating(t *testing.T) {
	v, _ := volume.New([3]int{2, 2, 2}, volume.Identity())
	img, err := FromVolume(v)
	if err != nil {
		t.Fatal(err)
	}
	h := img.Header
	h.Dim = [8]int64{3, 512, 512, 512, 1, 1, 1, 1}
	h.VoxOffset = 352
	hdr, err := h.Encode(false)
	if err != nil {
		t.Fatal(err)
	}
	ext := make([]byte, 4)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(hdr)
	zw.Write(ext)
	zw.Write(make([]byte, 4096)) // a little data, far from what is declared
	zw.Close()
	p := filepath.Join(t.TempDir(), "bomb.nii.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, read := range map[string]func() error{
		"Load 64 MiB":      func() error { _, err := Load(p, &ReadOptions{MaxBytes: 64 << 20}); return err },
		"LoadImage 64 MiB": func() error { _, err := LoadImage(p, &ReadOptions{MaxBytes: 64 << 20}); return err },
		"Load default":     func() error { _, err := Load(p, nil); return err }, // 512 MiB + 512 MiB... within 2 GiB: truncated
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		err := read()
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 80<<20 {
			t.Errorf("%s: allocated %d MiB before failing (%v)", name, alloc>>20, err)
		}
		if name != "Load default" && !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %v, want ErrTooLarge", name, err)
		}
	}
}
