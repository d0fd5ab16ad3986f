package nifti

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
	"github.com/metasurv/metasurv/internal/inflate"
)

// fuzzSeeds returns one seed per fixture NIfTI file: its content, or when
// decompressed is true or the file is larger than limit, its first limit
// decompressed bytes (the fuzzer stalls on multi-megabyte inputs, and the
// header and extensions are at the start).
func fuzzSeeds(f *testing.F, decompressed bool, limit int) [][]byte {
	dir := fixture.Path(f, "testdata", "nifti")
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(names) == 0 {
		f.Fatalf("no fixtures in %s: %v", dir, err)
	}
	var seeds [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		if decompressed || len(b) > limit {
			if inflate.IsGzip(b) {
				r, err := gzipReader(b)
				if err != nil {
					f.Fatal(err)
				}
				if b, err = io.ReadAll(io.LimitReader(r, int64(limit))); err != nil {
					f.Fatal(err)
				}
			}
		}
		seeds = append(seeds, b[:min(len(b), limit)])
	}
	return seeds
}

// FuzzReadHeader checks that DecodeHeader never panics and that every
// header it accepts encodes and decodes back to the same fields.
func FuzzReadHeader(f *testing.F) {
	for _, s := range fuzzSeeds(f, true, 1024) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHeader(b)
		if err != nil {
			return
		}
		_, _ = h.Affine()
		_ = h.NumpyDtype()
		enc, err := h.Encode(h.Pair)
		if err != nil {
			// Only text fields with embedded bytes beyond their width could
			// fail, which cannot come from a decoded header.
			t.Fatalf("re-encoding a decoded header: %v", err)
		}
		h2, err := DecodeHeader(enc)
		if err != nil {
			t.Fatalf("decoding a re-encoded header: %v", err)
		}
		if !sameHeader(h, h2) {
			t.Fatalf("header changed by encode/decode:\n%+v\n%+v", h, h2)
		}
	})
}

// sameHeader compares headers treating NaN fields as equal.
func sameHeader(a, b *Header) bool {
	x, y := *a, *b
	for _, h := range []*Header{&x, &y} {
		clearNaN(&h.IntentP1, &h.IntentP2, &h.IntentP3, &h.SclSlope, &h.SclInter, &h.CalMax, &h.CalMin,
			&h.SliceDuration, &h.TOffset, &h.QuaternB, &h.QuaternC, &h.QuaternD, &h.QOffsetX, &h.QOffsetY, &h.QOffsetZ)
		for i := range h.Pixdim {
			clearNaN(&h.Pixdim[i])
		}
		for i := 0; i < 4; i++ {
			clearNaN(&h.SrowX[i], &h.SrowY[i], &h.SrowZ[i])
		}
	}
	return x == y
}

func clearNaN(ps ...*float64) {
	for _, p := range ps {
		if *p != *p {
			*p = -12345.5
		}
	}
}

// FuzzRead checks that Read never panics nor allocates beyond its limit,
// and that every image it accepts survives Inspect and a write → read round
// trip unchanged.
func FuzzRead(f *testing.F) {
	for _, s := range fuzzSeeds(f, false, 64<<10) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := Read(bytes.NewReader(b), &ReadOptions{MaxBytes: 64 << 20})
		if err != nil {
			return
		}
		_, _ = Inspect(img)
		var buf bytes.Buffer
		if err := Write(&buf, img, nil); err != nil {
			if errors.Is(err, ErrInvalidHeader) && img.Header.checkGeometry() != nil {
				return // readers accept a NaN/Inf sform or qform, writers refuse it
			}
			t.Fatalf("writing an image that was read: %v", err)
		}
		back, err := Read(&buf, nil)
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		h1, h2 := back.Header, img.Header
		h1.VoxOffset, h2.VoxOffset = 0, 0
		if !sameHeader(&h1, &h2) {
			t.Fatalf("header changed by the round trip")
		}
		if !bytes.Equal(back.Data, img.Data) {
			t.Fatalf("data changed by the round trip")
		}
	})
}
