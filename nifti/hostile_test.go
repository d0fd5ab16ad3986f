package nifti

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// validFile returns a small valid single-file NIfTI of the given version.
func validFile(t *testing.T, version int) []byte {
	t.Helper()
	img := &Image{Header: Header{Version: version, Datatype: DTInt16, Dim: [8]int64{3, 4, 3, 2, 1, 1, 1, 1},
		Pixdim: [8]float64{1, 1, 1, 1}}}
	img.Data = make([]byte, 2*24)
	var buf bytes.Buffer
	if err := Write(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestHostileHeaders feeds damaged and malicious files to the reader and
// requires the matching sentinel error and a message naming the field.
func TestHostileHeaders(t *testing.T) {
	le := binary.LittleEndian
	put16 := func(off int, v int16) func([]byte) { return func(b []byte) { le.PutUint16(b[off:], uint16(v)) } }
	putf32 := func(off int, v float32) func([]byte) {
		return func(b []byte) { le.PutUint32(b[off:], math.Float32bits(v)) }
	}
	put64 := func(off int, v int64) func([]byte) { return func(b []byte) { le.PutUint64(b[off:], uint64(v)) } }
	cases := []struct {
		name    string
		version int
		mutate  func([]byte) []byte
		want    error
		mention string
	}{
		{"empty", 1, func(b []byte) []byte { return nil }, ErrTruncated, ""},
		{"short header", 1, func(b []byte) []byte { return b[:200] }, ErrTruncated, "header"},
		{"sizeof_hdr", 1, func(b []byte) []byte { le.PutUint32(b, 349); return b }, ErrNotNIfTI, "sizeof_hdr"},
		{"magic", 1, func(b []byte) []byte { copy(b[344:], "abc\x00"); return b }, ErrNotNIfTI, "magic"},
		{"magic v2", 2, func(b []byte) []byte { copy(b[4:], "xx"); return b }, ErrNotNIfTI, "magic"},
		{"eol v2", 2, func(b []byte) []byte { b[9] = 'x'; return b }, ErrNotNIfTI, "text-mode"},
		{"dim0 zero", 1, m(put16(40, 0)), ErrInvalidHeader, "dim[0]"},
		{"dim0 eight", 1, m(put16(40, 8)), ErrInvalidHeader, "dim[0]"},
		{"negative dim", 1, m(put16(44, -5)), ErrInvalidHeader, "dim[2]"},
		{"zero dim", 1, m(put16(42, 0)), ErrInvalidHeader, "dim[1]"},
		{"huge dims", 1, m(put16(40, 7), put16(42, 32767), put16(44, 32767), put16(46, 32767), put16(48, 32767)), ErrTooLarge, "limit"},
		{"overflow v2", 2, m(put64(16, 4), put64(24, 1<<40), put64(32, 1<<40), put64(40, 1<<40), put64(48, 1)), ErrTooLarge, "overflow"},
		{"datatype", 1, m(put16(70, 3)), ErrDatatype, "datatype code 3"},
		{"binary datatype", 1, m(put16(70, 1), put16(72, 1)), ErrDatatype, "binary"},
		{"float128", 1, m(put16(70, 1536), put16(72, 128)), ErrDatatype, "float128"},
		{"bitpix", 1, m(put16(72, 64)), ErrInvalidHeader, "bitpix"},
		{"vox_offset low", 1, m(putf32(108, 100)), ErrInvalidHeader, "vox_offset"},
		{"vox_offset fraction", 1, m(putf32(108, 352.5)), ErrInvalidHeader, "vox_offset"},
		{"vox_offset NaN", 1, m(putf32(108, float32(math.NaN()))), ErrInvalidHeader, "vox_offset"},
		{"vox_offset negative v2", 2, m(put64(168, -1)), ErrInvalidHeader, "vox_offset"},
		{"vox_offset beyond data", 1, m(putf32(108, 4096)), ErrTruncated, "extension area"},
		{"vox_offset huge", 1, m(putf32(108, 1e15)), ErrTooLarge, "limit"},
		{"truncated data", 1, func(b []byte) []byte { return b[:len(b)-3] }, ErrTruncated, "voxel data"},
		{"truncated gzip", 1, func(b []byte) []byte { z := gz(t, b); return z[:len(z)-30] }, ErrTruncated, ""},
		{"inter not finite", 1, m(putf32(112, 2), putf32(116, float32(math.Inf(1)))), ErrInvalidHeader, "scl_inter"},
		{"pair magic in .nii", 1, func(b []byte) []byte { copy(b[344:], "ni1\x00"); return b }, ErrInvalidHeader, "ReadPair"},
		{"extension esize", 1, func(b []byte) []byte {
			b = append(b[:352:352], append(make([]byte, 32), b[352:]...)...)
			b[348] = 1
			le.PutUint32(b[352:], 1000)
			le.PutUint32(b[108:], math.Float32bits(384))
			return b
		}, ErrExtension, "esize"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.mutate(validFile(t, c.version))
			_, err := Read(bytes.NewReader(b), nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Errorf("error %q does not mention %q", err, c.mention)
			}
		})
	}
}

// m applies mutations in place.
func m(fs ...func([]byte)) func([]byte) []byte {
	return func(b []byte) []byte {
		for _, f := range fs {
			f(b)
		}
		return b
	}
}

// TestZipBomb checks that a small gzip stream declaring more voxels than
// MaxBytes is refused before inflating, and that one that lies about its
// size stops at the declared size.
func TestZipBomb(t *testing.T) {
	b := validFile(t, 1)
	binary.LittleEndian.PutUint16(b[42:], 1000)
	binary.LittleEndian.PutUint16(b[44:], 1000)
	binary.LittleEndian.PutUint16(b[46:], 1000) // 2 GB of int16
	z := gz(t, append(b, make([]byte, 1<<20)...))
	_, err := Read(bytes.NewReader(z), &ReadOptions{MaxBytes: 1 << 30})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	_, err = Read(bytes.NewReader(z), &ReadOptions{MaxBytes: 4 << 30})
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("error %v, want ErrTruncated", err)
	}
}

// TestQuaternionNorm checks that a qform quaternion of norm > 1 is an error
// for the qform but not for reading the image.
func TestQuaternionNorm(t *testing.T) {
	h := Header{Version: 1, QformCode: 1, QuaternB: 0.9, QuaternC: 0.9, Pixdim: [8]float64{1, 1, 1, 1}}
	if _, err := h.Affine(); !errors.Is(err, ErrInvalidHeader) {
		t.Fatalf("error %v, want ErrInvalidHeader", err)
	}
	// Just above 1 within float32 precision: w = 0, as nibabel.
	h.QuaternB, h.QuaternC = 1, 1e-4
	if _, err := h.Qform(); err != nil {
		t.Fatal(err)
	}
}

// TestWriteRejects checks the writer's validation.
func TestWriteRejects(t *testing.T) {
	img := &Image{Header: Header{Version: 1, Datatype: DTUint8, Dim: [8]int64{1, 4}}, Data: make([]byte, 3)}
	if err := Write(&bytes.Buffer{}, img, nil); !errors.Is(err, ErrInvalidHeader) {
		t.Errorf("short Data: %v", err)
	}
	img.Data = make([]byte, 4)
	img.Header.Descrip = strings.Repeat("x", 81)
	if err := Write(&bytes.Buffer{}, img, nil); !errors.Is(err, ErrInvalidHeader) {
		t.Errorf("long descrip: %v", err)
	}
	img.Header.Descrip = ""
	img.Header.Dim = [8]int64{1, 40000}
	img.Data = make([]byte, 40000)
	if err := Write(&bytes.Buffer{}, img, nil); !errors.Is(err, ErrInvalidHeader) {
		t.Errorf("dim beyond int16 in NIfTI-1: %v", err)
	}
	img.Header.Version = 2
	if err := Write(&bytes.Buffer{}, img, nil); err != nil {
		t.Errorf("NIfTI-2 with dim 40000: %v", err)
	}
	img.Header.Version, img.Header.Dim = 1, [8]int64{1, 4}
	img.Data = make([]byte, 4)
	img.Header.XYZTUnits = 300
	if err := Write(&bytes.Buffer{}, img, nil); !errors.Is(err, ErrInvalidHeader) || !strings.Contains(err.Error(), "xyzt_units") {
		t.Errorf("xyzt_units 300 in NIfTI-1: %v", err)
	}
}
