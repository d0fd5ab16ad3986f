package dicom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestTruncationsNeverPanic parses every prefix of the committed files and
// decodes what parses: errors only, and the full files decode.
func TestTruncationsNeverPanic(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.dcm")
	if len(files) == 0 {
		t.Fatal("no test files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		step := 1 + len(b)/1500
		for n := 0; n < len(b); n += step {
			ds, err := Parse(b[:n], nil)
			if err != nil {
				continue
			}
			_, _ = readHeader(f, ds, int64(n), nil)
			_, _, _ = ds.DecodeFrames(nil)
		}
		// Flip bytes of the pixel stream: decoders must report, not panic.
		c := append([]byte(nil), b...)
		for i := len(c) / 2; i < len(c); i += 13 {
			c[i] ^= 0x5A
		}
		if ds, err := Parse(c, nil); err == nil {
			_, _, _ = ds.DecodeFrames(nil)
		}
	}
}

func TestBudgetAndNesting(t *testing.T) {
	b, err := os.ReadFile("testdata/mr_small.dcm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(b, &Options{MaxBytes: 1000}); !errors.Is(err, ErrTooLarge) {
		ds, perr := Parse(b, &Options{MaxBytes: 1000})
		if perr == nil {
			if _, _, derr := ds.DecodeFrames(&Options{MaxBytes: 1000}); !errors.Is(derr, ErrTooLarge) {
				t.Fatalf("64×64 image decoded within a 1000-byte budget: %v", derr)
			}
		}
	}
	if _, err := Read(bytes.NewReader(b), &Options{MaxBytes: 100}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Read past the budget: %v", err)
	}
	// 40 nested sequences of undefined length.
	var body bytes.Buffer
	for i := 0; i < 40; i++ {
		body.Write([]byte{0x08, 0x00, 0x15, 0x11, 'S', 'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF})
		body.Write([]byte{0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF})
	}
	if _, err := Parse(encodeFileRaw(body.Bytes()), nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("deep nesting: %v", err)
	}
	// An element claiming 4 GB.
	var huge bytes.Buffer
	huge.Write([]byte{0x10, 0x00, 0x10, 0x00, 'O', 'B', 0, 0})
	binary.Write(&huge, binary.LittleEndian, uint32(0xFFFFFFF0))
	if _, err := Parse(encodeFileRaw(huge.Bytes()), nil); !errors.Is(err, ErrTruncated) {
		t.Fatalf("huge element: %v", err)
	}
	// Rows × columns × frames past the budget are refused before decoding.
	ds, err := Parse(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ds.Elements {
		if e.Tag == TagNumberOfFrames {
			t.Fatal("unexpected")
		}
	}
	ds.Elements = mergeSorted(ds.Elements, []*Element{{Tag: TagNumberOfFrames, VR: "IS", Value: []byte("100000")}})
	if _, _, err := ds.DecodeFrames(&Options{MaxBytes: 1 << 20}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("frames past the budget: %v", err)
	}
}

// encodeFileRaw wraps an already encoded explicit-VR-LE body in a Part 10
// header.
func encodeFileRaw(body []byte) []byte {
	f := encodeFile(nil)
	return append(f, body...)
}

func TestUnsupportedSyntaxNamed(t *testing.T) {
	b := encodeFileTS(JPEG2000Lossless, []tElem{tStr(TagModality, "CS", "MR")})
	ds, err := Parse(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds.Elements = mergeSorted(ds.Elements, []*Element{
		{Tag: TagRows, VR: "US", Value: []byte{4, 0}}, {Tag: TagColumns, VR: "US", Value: []byte{4, 0}},
		{Tag: TagBitsAllocated, VR: "US", Value: []byte{16, 0}}, {Tag: TagPixelData, VR: "OB", Fragments: [][]byte{nil, {1}}},
	})
	_, _, err = ds.DecodeFrames(nil)
	if !errors.Is(err, ErrUnsupported) || !bytes.Contains([]byte(err.Error()), []byte("JPEG 2000 Lossless")) {
		t.Fatalf("JPEG 2000: %v", err)
	}
}

func TestGuessSequence(t *testing.T) {
	for _, c := range []struct {
		m    Metadata
		want string
	}{
		{Metadata{SeriesDescription: "t1_mprage_sag_p2_iso", RepetitionTime: 2300, EchoTime: 2.98, InversionTime: 900}, "T1"},
		{Metadata{SeriesDescription: "t1_mprage_sag_p2_iso", ContrastBolusAgent: "Gadovist"}, "T1c"},
		{Metadata{SeriesDescription: "AX T1 POST GD"}, "T1c"},
		{Metadata{SeriesDescription: "t2_tse_tra", RepetitionTime: 5000, EchoTime: 98}, "T2"},
		{Metadata{SeriesDescription: "t2_tirm_tra_dark-fluid", RepetitionTime: 9000, EchoTime: 81, InversionTime: 2500}, "FLAIR"},
		{Metadata{SeriesDescription: "AX FLAIR"}, "FLAIR"},
		{Metadata{SeriesDescription: "series 4", RepetitionTime: 9000, EchoTime: 120, InversionTime: 2500}, "FLAIR"},
		{Metadata{SeriesDescription: "series 5", RepetitionTime: 4000, EchoTime: 100}, "T2"},
		{Metadata{SeriesDescription: "series 6", RepetitionTime: 500, EchoTime: 12}, "T1"},
		{Metadata{SeriesDescription: "DWI b1000"}, ""},
	} {
		g := GuessSequence(&c.m)
		if g.Label != c.want || g.Reason == "" {
			t.Errorf("%q: %q (%s), want %q", c.m.SeriesDescription, g.Label, g.Reason, c.want)
		}
	}
}

// TestHugeFrameCounts: frame and tile counts far beyond what the file can
// hold are refused before per-frame records are allocated.
func TestHugeFrameCounts(t *testing.T) {
	dir := t.TempDir()
	px := make([]byte, 32)
	b := encodeFile([]tElem{
		tStr(TagImageType, "CS", `ORIGINAL\PRIMARY\M\MOSAIC`),
		tUS(TagSamplesPerPixel, 1), tUS(TagRows, 4), tUS(TagColumns, 4), tUS(TagBitsAllocated, 16),
		tStr(TagNumberOfFrames, "IS", "2000000000"),
		{TagPixelData, "OW", px},
	})
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := scanFile(p, &Options{}); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
		t.Fatalf("2e9 frames in %d bytes: %v", len(b), err)
	}
	if _, err := scanFile(p, &Options{MaxBytes: 100}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("file past the budget: %v", err)
	}
}
