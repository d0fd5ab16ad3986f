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

// TestBitsStored checks masking below HighBit and sign extension: 12 bits
// stored in 16 with garbage (overlay) bits above, signed and unsigned,
// HighBit at 11 and at 15 (data in the top bits).
func TestBitsStored(t *testing.T) {
	raw := []uint16{0x0FFF, 0xF800, 0x0801, 0x07FF, 0xA123, 0x0000}
	for _, c := range []struct {
		signed  bool
		highBit int
		want    []float32
	}{
		{false, 11, []float32{4095, 2048, 2049, 2047, 0x123, 0}},
		{true, 11, []float32{-1, -2048, -2047, 2047, 0x123, 0}},
		{false, 15, []float32{0x0FF, 0xF80, 0x080, 0x07F, 0xA12, 0}},
		{true, 15, []float32{0x0FF, 0xF80 - 4096, 0x080, 0x07F, 0xA12 - 4096, 0}},
	} {
		px := make([]byte, 2*len(raw))
		for i, v := range raw {
			px[2*i], px[2*i+1] = byte(v), byte(v>>8)
		}
		rep := uint16(0)
		if c.signed {
			rep = 1
		}
		b := encodeFile([]tElem{
			tUS(TagSamplesPerPixel, 1), tUS(TagRows, 2), tUS(TagColumns, 3), tUS(TagBitsAllocated, 16),
			tUS(TagBitsStored, 12), tUS(TagHighBit, uint16(c.highBit)), tUS(TagPixelRepresentation, rep),
			{TagPixelData, "OW", px},
		})
		ds, err := Parse(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := ds.DecodeFrames(nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("signed %v high bit %d: value %d = %v, want %v", c.signed, c.highBit, i, got[i], c.want[i])
			}
		}
	}
}

// TestEightBitEncodings: an 8-bit image of odd size re-encoded by
// dcmcjpeg (selection values 1 and 5) and dcmcrle decodes to its values.
func TestEightBitEncodings(t *testing.T) {
	for _, tool := range []string{"dcmcjpeg", "dcmcrle"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s (Debian dcmtk) not installed", tool)
		}
	}
	const rows, cols = 37, 53 // odd sizes
	px := make([]byte, rows*cols)
	for i := range px {
		px[i] = byte((i*7)%251 ^ i/cols)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "u8.dcm")
	b := encodeFile([]tElem{
		tStr(TagSOPClassUID, "UI", "1.2.840.10008.5.1.4.1.1.4"),
		tStr(TagSOPInstanceUID, "UI", "1.2.3.4.5"),
		tStr(TagModality, "CS", "MR"),
		tUS(TagSamplesPerPixel, 1), tStr(TagPhotometricInterpretation, "CS", "MONOCHROME2"),
		tUS(TagRows, rows), tUS(TagColumns, cols), tUS(TagBitsAllocated, 8), tUS(TagBitsStored, 8),
		tUS(TagHighBit, 7), tUS(TagPixelRepresentation, 0),
		{TagPixelData, "OB", append(px, 0)}, // even length
	})
	if err := os.WriteFile(src, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"sv1": {"dcmcjpeg", "+e1"}, "sv5": {"dcmcjpeg", "+el", "+sv", "5"}, "rle": {"dcmcrle"},
	} {
		out := filepath.Join(dir, name+".dcm")
		if b, err := exec.Command(args[0], append(args[1:], src, out)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, b)
		}
		got, pi := decodeFile(t, out)
		if pi.BitsAllocated != 8 || len(got) != rows*cols {
			t.Fatalf("%s: %d bits, %d values", name, pi.BitsAllocated, len(got))
		}
		for i := range got {
			if got[i] != float32(px[i]) {
				t.Fatalf("%s: value %d = %v, want %v", name, i, got[i], px[i])
			}
		}
	}
}
