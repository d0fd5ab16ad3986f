package nifti

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/metasurv/metasurv/internal/fixture"
)

// gunzipRef decompresses with klauspost/compress, the reference.
func gunzipRef(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// TestGunzipFixtures decompresses every gzipped fixture and compares with
// klauspost/compress.
func TestGunzipFixtures(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join(fixture.Path(t, "testdata", "nifti"), "*.gz"))
	if len(names) == 0 {
		t.Fatal("no .gz fixtures")
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		want, err := gunzipRef(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := gunzip(b, 1<<30, 0)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes, err %v; want %d bytes", n, len(got), err, len(want))
		}
	}
}

// TestGunzipLevels compresses data of several kinds at every level
// (stored, fixed and dynamic blocks, long and overlapping matches,
// multi-member) and checks the round trip.
func TestGunzipLevels(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	inputs := map[string][]byte{
		"empty":  {},
		"zeros":  make([]byte, 300000),
		"random": make([]byte, 100000),
		"text":   bytes.Repeat([]byte("NIfTI-1 header extension text, repeated. "), 3000),
		"mri":    phantomInt16(60, 50, 40).Data,
	}
	for i := range inputs["random"] {
		inputs["random"][i] = byte(rng.IntN(256))
	}
	for name, data := range inputs {
		for level := -2; level <= 9; level++ {
			z := gzipBytes(t, data, level)
			got, err := gunzip(z, len(data)+1, len(data))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s level %d: err %v, %d bytes, want %d", name, level, err, len(got), len(data))
			}
		}
		two := append(gzipBytes(t, data, 1), gzipBytes(t, data[:len(data)/2], 6)...)
		got, err := gunzip(append(two, 0, 0, 0), 1<<30, 0)
		if err != nil || !bytes.Equal(got, append(append([]byte(nil), data...), data[:len(data)/2]...)) {
			t.Fatalf("%s: multi-member: %v", name, err)
		}
	}
}

func gzipBytes(t testing.TB, data []byte, level int) []byte {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

// TestGunzipErrors checks truncation, corruption and the size limit.
func TestGunzipErrors(t *testing.T) {
	data := phantomInt16(40, 30, 20).Data
	z := gzipBytes(t, data, 6)
	if _, err := gunzip(z, len(data)-1, 0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit: %v", err)
	}
	for _, cut := range []int{5, 20, len(z) / 2, len(z) - 9, len(z) - 1} {
		if _, err := gunzip(z[:cut], 1<<30, 0); err == nil {
			t.Errorf("truncated at %d: no error", cut)
		}
	}
	bad := append([]byte(nil), z...)
	bad[len(bad)-6] ^= 1 // CRC
	if _, err := gunzip(bad, 1<<30, 0); err == nil {
		t.Error("bad CRC accepted")
	}
}

// FuzzGunzip compares gunzip with klauspost/compress on arbitrary input:
// same output when the reference succeeds, never a panic.
func FuzzGunzip(f *testing.F) {
	f.Add(gzipBytes(f, []byte("hello hello hello hello"), 9))
	f.Add(gzipBytes(f, phantomInt16(20, 10, 8).Data, 1))
	f.Add(gzipBytes(f, phantomInt16(20, 10, 8).Data, -2))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := gunzip(b, 1<<20, 0)
		want, werr := gunzipRef(b)
		if werr == nil && len(want) <= 1<<20 && err == nil && !bytes.Equal(got, want) {
			t.Fatalf("output differs from klauspost (%d vs %d bytes)", len(got), len(want))
		}
		if werr == nil && len(want) <= 1<<20 && err != nil && !allZero(b[len(b)-1:]) {
			t.Fatalf("klauspost accepts, gunzip fails: %v", err)
		}
	})
}

func benchGunzip(b *testing.B, path string, ref bool) {
	z, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	want, _ := gunzipRef(z)
	b.ResetTimer()
	for b.Loop() {
		if ref {
			_, err = gunzipRef(z)
		} else {
			_, err = gunzip(z, 1<<30, len(want))
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(want))/1e6/(b.Elapsed().Seconds()/float64(b.N)), "MB/s")
}

// BenchmarkGunzip compares the flat-buffer inflater with klauspost/compress
// on ch2.nii.gz (MB/s of decompressed output).
func BenchmarkGunzip(b *testing.B) {
	path := fixture.Path(b, "testdata", "nifti", "ch2.nii.gz")
	b.Run("flat", func(b *testing.B) { benchGunzip(b, path, false) })
	b.Run("klauspost", func(b *testing.B) { benchGunzip(b, path, true) })
}
