package inflate

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
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
		got, err := Gunzip(b, 1<<30, 0, nil, nil)
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
		"mri":    fixture.PhantomInt16(60, 50, 40),
	}
	for i := range inputs["random"] {
		inputs["random"][i] = byte(rng.IntN(256))
	}
	for name, data := range inputs {
		for level := -2; level <= 9; level++ {
			z := gzipBytes(t, data, level)
			got, err := Gunzip(z, len(data)+1, len(data), nil, nil)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s level %d: err %v, %d bytes, want %d", name, level, err, len(got), len(data))
			}
		}
		two := append(gzipBytes(t, data, 1), gzipBytes(t, data[:len(data)/2], 6)...)
		got, err := Gunzip(append(two, 0, 0, 0), 1<<30, 0, nil, nil)
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
	data := fixture.PhantomInt16(40, 30, 20)
	z := gzipBytes(t, data, 6)
	if _, err := Gunzip(z, len(data)-1, 0, nil, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit: %v", err)
	}
	for _, cut := range []int{5, 20, len(z) / 2, len(z) - 9, len(z) - 1} {
		if _, err := Gunzip(z[:cut], 1<<30, 0, nil, nil); err == nil {
			t.Errorf("truncated at %d: no error", cut)
		}
	}
	bad := append([]byte(nil), z...)
	bad[len(bad)-6] ^= 1 // CRC
	if _, err := Gunzip(bad, 1<<30, 0, nil, nil); err == nil {
		t.Error("bad CRC accepted")
	}
}

// FuzzGunzip compares gunzip with klauspost/compress on arbitrary input:
// same output when the reference succeeds, never a panic.
func FuzzGunzip(f *testing.F) {
	f.Add(gzipBytes(f, []byte("hello hello hello hello"), 9))
	f.Add(gzipBytes(f, fixture.PhantomInt16(20, 10, 8), 1))
	f.Add(gzipBytes(f, fixture.PhantomInt16(20, 10, 8), -2))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Gunzip(b, 1<<20, 0, nil, nil)
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
			_, err = Gunzip(z, 1<<30, len(want), nil, nil)
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

// TestParallelInflate checks that large members decode exactly as
// klauspost does through inflateMember (parallel or not, depending on
// timing), and through the speculative path forced deterministically, for
// the ch2 fixture and for generated data at several levels.
func TestParallelInflate(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	inputs := [][]byte{}
	ch2, err := os.ReadFile(fixture.Path(t, "testdata", "nifti", "ch2.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	inputs = append(inputs, ch2)
	data := fixture.PhantomInt16(160, 160, 100)
	for _, level := range []int{1, 6, 9} {
		inputs = append(inputs, gzipBytes(t, data, level))
	}
	for i, z := range inputs {
		want, err := gunzipRef(z)
		if err != nil {
			t.Fatal(err)
		}
		start, err := gzipMemberStart(z)
		if err != nil {
			t.Fatal(err)
		}
		m, err := inflateMember(z, start, len(want), len(want), nil, nil)
		if err != nil || !bytes.Equal(m.out, want) || m.crc != crc32.ChecksumIEEE(want) {
			t.Fatalf("input %d: %v, equal %v, crc %08x", i, err, bytes.Equal(m.out, want), m.crc)
		}
		// The speculative path, run deterministically: the second decoder
		// must find a true block boundary, the first must stop there, and
		// the joined output must be exact.
		h := &handoff{}
		h.start.Store(-1)
		b, err := speculate(z, start+(len(z)-start)/2, h, len(want), len(want))
		if err != nil {
			t.Fatalf("input %d: speculate: %v", i, err)
		}
		a := inflater[byte]{in: z, ip: start, limit: len(want), sync: h}
		stopped, err := a.inflate()
		if err != nil || !stopped {
			t.Fatalf("input %d: main decoder did not stop at the speculative start: %v", i, err)
		}
		joined, crcB, ok := join(a.out, b.out, len(want))
		if !ok || !bytes.Equal(joined, want) || crcB != crc32.ChecksumIEEE(want[len(a.out):]) {
			t.Fatalf("input %d: joined output differs (ok %v)", i, ok)
		}
	}
}

// TestJoinMarkers checks marker resolution and the rejection of a marker
// pointing before the start of the output.
func TestJoinMarkers(t *testing.T) {
	a := make([]byte, windowSize+10)
	for i := range a {
		a[i] = byte(i * 7)
	}
	b := []uint16{5, 256 + windowSize - 1, 256} // literal, last byte of a, first byte of the window
	out, _, ok := join(a, b, 1<<20)
	if !ok || out[len(a)] != 5 || out[len(a)+1] != a[len(a)-1] || out[len(a)+2] != a[10] {
		t.Fatalf("join = %v %v", out[len(a):], ok)
	}
	if _, _, ok := join(a[:100], b, 1<<20); ok {
		t.Error("marker before the start accepted")
	}
	if _, _, ok := join(a, b, len(a)+2); ok {
		t.Error("limit ignored")
	}
	// A long mix of literals and markers (both halves, 8-wide and tail).
	long := make([]uint16, 1001)
	want := make([]byte, len(long))
	seed := uint32(1)
	for i := range long {
		seed = seed*1664525 + 1013904223
		if d := int(seed>>8) % windowSize; seed>>31 == 1 {
			long[i], want[i] = uint16(256+d), a[len(a)-windowSize+d]
		} else {
			long[i], want[i] = uint16(seed>>20&255), byte(seed>>20)
		}
	}
	out, crc, ok := join(a, long, 1<<20)
	if !ok || !bytes.Equal(out[len(a):], want) || crc != crc32.ChecksumIEEE(want) {
		t.Fatalf("long join differs (ok %v)", ok)
	}
}

// TestParallelInflateCorrupt flips bits across a large stream: the
// two-way decoder must fail (or agree with klauspost), never panic or
// return different data.
func TestParallelInflateCorrupt(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	z := gzipBytes(t, fixture.PhantomInt16(160, 160, 100), 6)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 12; i++ {
		bad := append([]byte(nil), z...)
		p := 20 + rng.IntN(len(bad)-30)
		bad[p] ^= 1 << rng.IntN(8)
		got, err := Gunzip(bad, 1<<26, 1<<23, nil, nil)
		want, werr := gunzipRef(bad)
		if err == nil && (werr != nil || !bytes.Equal(got, want)) {
			t.Fatalf("flip at %d: accepted, reference error %v", p, werr)
		}
	}
}
