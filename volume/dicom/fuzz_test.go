package dicom

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds adds the committed test files and, when installed, the small
// pydicom/nibabel test files to a fuzz corpus.
func fuzzSeeds(f *testing.F, max int64) [][]byte {
	var files []string
	m, _ := filepath.Glob("testdata/*.dcm")
	files = append(files, m...)
	m, _ = filepath.Glob("/usr/lib/python3/dist-packages/pydicom/data/test_files/*.dcm")
	files = append(files, m...)
	m, _ = filepath.Glob("/usr/lib/python3/dist-packages/nibabel/nicom/tests/data/*.dcm")
	files = append(files, m...)
	var out [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil || int64(len(b)) > max {
			continue
		}
		f.Add(b)
		out = append(out, b)
	}
	return out
}

var fuzzOpts = &Options{MaxBytes: 1 << 24, MaxDepth: 8}

// FuzzParse feeds arbitrary bytes to the parser, the header reader and the
// pixel decoders: errors are fine, panics and runaway allocations are not.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f, 300<<10)
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := Parse(b, fuzzOpts)
		if err != nil {
			return
		}
		_, _ = readHeader("fuzz", ds, int64(len(b)), fuzzOpts)
		_, _, _ = ds.DecodeFrames(fuzzOpts)
		o := *fuzzOpts
		o.StopAtPixelData = true
		_, _ = Parse(b, &o)
	})
}

// FuzzJPEGLossless decodes arbitrary frames as a 64×64 16-bit image.
func FuzzJPEGLossless(f *testing.F) {
	for _, name := range []string{"mr_small_sv1.dcm", "mr_small_sv7_pt2.dcm", "mr_small_gdcm_jpegll.dcm"} {
		ds, err := ReadFile(filepath.Join("testdata", name), nil)
		if err != nil {
			f.Fatal(err)
		}
		fr := ds.Get(TagPixelData).Fragments
		f.Add(fr[len(fr)-1])
	}
	img := make([]uint16, 64*64)
	for i := range img {
		img[i] = uint16(i * 37)
	}
	f.Add(encodeLossless(img, 64, 64, 16, 6, 1, 128)) // restart markers every 2 rows
	pi := PixelInfo{Rows: 64, Columns: 64, Frames: 1, Samples: 1, BitsAllocated: 16, BitsStored: 16, HighBit: 15}
	dst := make([]uint16, 64*64)
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = decodeJPEGLossless(b, pi, dst)
	})
}

// FuzzRLE decodes arbitrary frames as a 64×64 16-bit RLE image.
func FuzzRLE(f *testing.F) {
	ds, err := ReadFile("testdata/mr_small_dcmtk_rle.dcm", nil)
	if err != nil {
		f.Fatal(err)
	}
	fr := ds.Get(TagPixelData).Fragments
	f.Add(fr[len(fr)-1])
	pi := PixelInfo{Rows: 64, Columns: 64, Frames: 1, Samples: 1, BitsAllocated: 16, BitsStored: 16, HighBit: 15}
	dst := make([]uint16, 64*64)
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = decodeRLE(b, pi, dst)
	})
}

// FuzzCSA parses arbitrary Siemens CSA headers.
func FuzzCSA(f *testing.F) {
	for _, p := range []string{"/usr/lib/python3/dist-packages/nibabel/nicom/tests/data/csa2_b0.bin",
		"/usr/lib/python3/dist-packages/nibabel/nicom/tests/data/csa_str_valid.bin"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("SV10\x04\x03\x02\x01\x01\x00\x00\x00M\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseCSA(b)
	})
}

// FuzzScan scans a folder holding one arbitrary file beside a valid slice
// and decodes every series found: grouping, geometry and pixel assembly
// must return errors, never panic.
func FuzzScan(f *testing.F) {
	good, err := os.ReadFile("testdata/mr_small.dcm")
	if err != nil {
		f.Fatal(err)
	}
	fuzzSeeds(f, 64<<10)
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "a"), good, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "b"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Scan(context.Background(), dir, &ScanOptions{Options: *fuzzOpts, MaxVolumeBytes: 1 << 24, SplitGaps: len(b)%2 == 0})
		if err != nil {
			return
		}
		for _, s := range res.Series {
			_, _ = s.Volume(context.Background())
		}
	})
}
