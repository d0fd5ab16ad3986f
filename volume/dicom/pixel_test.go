package dicom

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func decodeFile(t *testing.T, path string) ([]float32, PixelInfo) {
	t.Helper()
	ds, err := ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	px, pi, err := ds.DecodeFrames(nil)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return px, pi
}

// TestCompressedEqualsNative decodes MR_small (pydicom's test image,
// 64×64 signed 16-bit) re-encoded by dcmtk and gdcm as lossless JPEG (SV1,
// predictor 7 with point transform 2) and RLE, and requires the native
// values exactly.
func TestCompressedEqualsNative(t *testing.T) {
	want, _ := decodeFile(t, "testdata/mr_small.dcm")
	for _, c := range []struct {
		file string
		pt   uint
	}{
		{"mr_small_sv1.dcm", 0},
		{"mr_small_gdcm_jpegll.dcm", 0},
		{"mr_small_dcmtk_rle.dcm", 0},
		{"mr_small_sv7_pt2.dcm", 2},
	} {
		got, pi := decodeFile(t, filepath.Join("testdata", c.file))
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", c.file, len(got), len(want))
		}
		bad := 0
		for i := range got {
			w := want[i]
			if c.pt > 0 {
				// The point transform drops the low bits of the
				// (unsigned) sample.
				u := uint16(int16(w)) >> c.pt << c.pt
				w = float32(int16(u))
			}
			if got[i] != w {
				if bad < 3 {
					t.Errorf("%s: value %d = %v, want %v", c.file, i, got[i], w)
				}
				bad++
			}
		}
		t.Logf("%s (%s): %d values, %d differ", c.file, TransferSyntaxName(pi.TransferSyntax), len(got), bad)
	}
}

// TestJPEGPredictors re-encodes MR_small with every selection value 1–7
// and with small fragments (dcmcjpeg, when installed) and requires the
// native values.
func TestJPEGPredictors(t *testing.T) {
	if _, err := exec.LookPath("dcmcjpeg"); err != nil {
		t.Skip("dcmcjpeg (Debian dcmtk) not installed")
	}
	want, _ := decodeFile(t, "testdata/mr_small.dcm")
	dir := t.TempDir()
	cases := map[string][]string{}
	for sv := 1; sv <= 7; sv++ {
		cases["sv"+string(rune('0'+sv))] = []string{"+el", "+sv", string(rune('0' + sv))}
	}
	cases["frag1k"] = []string{"+e1", "+fs", "1"}
	cases["frag1k-nobot"] = []string{"+e1", "+fs", "1", "-ot"}
	for name, args := range cases {
		out := filepath.Join(dir, name+".dcm")
		cmd := exec.Command("dcmcjpeg", append(args, "testdata/mr_small.dcm", out)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dcmcjpeg %v: %v\n%s", args, err, b)
		}
		got, _ := decodeFile(t, out)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: value %d = %v, want %v", name, i, got[i], want[i])
			}
		}
	}
	_ = os.Remove(dir)
}
