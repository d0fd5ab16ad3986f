package npy

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/chunked"
	"github.com/metasurv/metasurv/internal/fixture"
)

func roundTrip(t *testing.T, shape []int, data any) *Array {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, shape, data); err != nil {
		t.Fatalf("Write(%v, %T): %v", shape, data, err)
	}
	b := buf.Bytes()
	hl := int(binary.LittleEndian.Uint16(b[8:10]))
	if (10+hl)%headerAlign != 0 || b[9+hl] != '\n' {
		t.Fatalf("header of %d bytes not padded to %d with a final newline", hl, headerAlign)
	}
	a, err := Read(&buf)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if !reflect.DeepEqual(a.Shape, shape) && !(len(a.Shape) == 0 && len(shape) == 0) {
		t.Fatalf("shape %v, want %v", a.Shape, shape)
	}
	return a
}

func TestRoundTripAllTypes(t *testing.T) {
	f32 := []float32{1.5, -2, float32(math.Inf(1)), math.MaxFloat32, math.SmallestNonzeroFloat32, 0}
	f64 := []float64{1.5, -2, math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64, 1e-300}
	i64 := []int64{math.MinInt64, -1, 0, 1, math.MaxInt64, 42}
	i32 := []int32{math.MinInt32, -1, 0, 1, math.MaxInt32, 42}
	u8 := []uint8{0, 1, 2, 127, 128, 255}
	bl := []bool{true, false, true, true, false, false}
	shape := []int{2, 3}

	a := roundTrip(t, shape, f32)
	got32, err := a.Float32()
	if err != nil || !reflect.DeepEqual(got32, f32) || a.DType != "<f4" {
		t.Errorf("float32: %v %v %s", got32, err, a.DType)
	}
	a = roundTrip(t, shape, f64)
	got64, err := a.Float64()
	if err != nil || !reflect.DeepEqual(got64, f64) || a.DType != "<f8" {
		t.Errorf("float64: %v %v %s", got64, err, a.DType)
	}
	a = roundTrip(t, shape, i64)
	gotI, err := a.Int64()
	if err != nil || !reflect.DeepEqual(gotI, i64) || a.DType != "<i8" {
		t.Errorf("int64: %v %v %s", gotI, err, a.DType)
	}
	a = roundTrip(t, shape, i32)
	gotI, err = a.Int64()
	if err != nil || a.DType != "<i4" {
		t.Fatalf("int32: %v %s", err, a.DType)
	}
	for i := range i32 {
		if gotI[i] != int64(i32[i]) {
			t.Errorf("int32[%d] = %d, want %d", i, gotI[i], i32[i])
		}
	}
	a = roundTrip(t, shape, u8)
	if !bytes.Equal(a.Data, u8) || a.DType != "|u1" {
		t.Errorf("uint8: %v %s", a.Data, a.DType)
	}
	a = roundTrip(t, shape, bl)
	gotF, err := a.Float32()
	if err != nil || !reflect.DeepEqual(gotF, []float32{1, 0, 1, 1, 0, 0}) || a.DType != "|b1" {
		t.Errorf("bool: %v %v %s", gotF, err, a.DType)
	}
}

func TestZeroDAndEmpty(t *testing.T) {
	a := roundTrip(t, nil, []float64{3.25})
	if len(a.Shape) != 0 || a.Len() != 1 {
		t.Fatalf("0-d: shape %v len %d", a.Shape, a.Len())
	}
	v, _ := a.Float64()
	if v[0] != 3.25 {
		t.Fatalf("0-d value %v", v)
	}
	a = roundTrip(t, []int{3, 0, 2}, []float32{})
	if a.Len() != 0 || len(a.Data) != 0 {
		t.Fatalf("empty: %v", a)
	}
	if err := Write(io.Discard, []int{2}, []float32{1}); err == nil {
		t.Fatal("Write accepted 1 value for shape [2]")
	}
	if err := Write(io.Discard, []int{1}, []string{"x"}); err == nil {
		t.Fatal("Write accepted []string")
	}
}

// TestHeaderFormatMatchesNumpy compares with the bytes numpy.save writes
// (the fixture ../shared/golden/models/*.logits.npy begin with exactly this).
func TestHeaderFormatMatchesNumpy(t *testing.T) {
	h := encodeHeader("<f4", false, []int{2, 3})
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
	want := "\x93NUMPY\x01\x00v\x00" + dict + strings.Repeat(" ", 128-11-len(dict)) + "\n"
	if string(h) != want {
		t.Fatalf("header\n%q\nwant\n%q", h, want)
	}
	if got := formatHeader("<f8", true, []int{5}); got != "{'descr': '<f8', 'fortran_order': True, 'shape': (5,), }" {
		t.Fatalf("1-d header %q", got)
	}
	if got := formatHeader("|b1", false, nil); got != "{'descr': '|b1', 'fortran_order': False, 'shape': (), }" {
		t.Fatalf("0-d header %q", got)
	}
}

func rawFile(major byte, dict string, data []byte) []byte {
	b := append([]byte{}, magic...)
	b = append(b, major, 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(dict)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(dict)))
	}
	return append(append(b, dict...), data...)
}

func TestFortranOrderConvertedToC(t *testing.T) {
	shape := []int{2, 3, 4}
	// Element (i,j,k) has value i*12 + j*4 + k (its C index); in Fortran
	// order it sits at i + 2*(j + 3*k).
	data := make([]byte, 24*2)
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 4; k++ {
				binary.LittleEndian.PutUint16(data[2*(i+2*(j+3*k)):], uint16(i*12+j*4+k))
			}
		}
	}
	f := rawFile(1, "{'descr': '<u2', 'fortran_order': True, 'shape': (2, 3, 4), }\n", data)
	a, err := Read(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	v, err := a.Int64()
	if err != nil {
		t.Fatal(err)
	}
	for i := range v {
		if v[i] != int64(i) {
			t.Fatalf("C index %d holds %d; data %v", i, v[i], v)
		}
	}
	if !a.Fortran || !reflect.DeepEqual(a.Shape, shape) {
		t.Fatalf("Fortran=%v shape=%v", a.Fortran, a.Shape)
	}
}

func TestBigEndianAndVersions(t *testing.T) {
	data := make([]byte, 0, 24)
	for _, v := range []float64{1.5, -3, 1e300} {
		data = binary.BigEndian.AppendUint64(data, math.Float64bits(v))
	}
	for _, major := range []byte{1, 2, 3} {
		f := rawFile(major, "{\"descr\": \">f8\", \"shape\": (3L,), \"fortran_order\": False}   \n", data)
		a, err := Read(bytes.NewReader(f))
		if err != nil {
			t.Fatalf("v%d: %v", major, err)
		}
		v, _ := a.Float64()
		if !reflect.DeepEqual(v, []float64{1.5, -3, 1e300}) || a.DType != "<f8" {
			t.Fatalf("v%d: %v %s", major, v, a.DType)
		}
	}
	i16 := rawFile(1, "{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }", []byte{0xff, 0xfe, 0x01, 0x02})
	a, err := Read(bytes.NewReader(i16))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := a.Int64()
	if !reflect.DeepEqual(v, []int64{-2, 258}) {
		t.Fatalf(">i2 %v", v)
	}
	if _, err := a.Float32(); err != nil {
		t.Fatal(err)
	}
}

func TestLargeHeaderUsesVersion2(t *testing.T) {
	h := encodeHeader("<f4", false, []int{1})
	if h[6] != 1 {
		t.Fatalf("small header uses version %d", h[6])
	}
	big := make([]int, 7000) // 7000 × len("123456789, ") > 65535
	for i := range big {
		big[i] = 123456789
	}
	h = encodeHeader("<f4", false, big)
	if h[6] != 2 || len(h)%headerAlign != 0 {
		t.Fatalf("long header: version %d, length %d", h[6], len(h))
	}
}

func TestIntConversionErrors(t *testing.T) {
	a := roundTrip(t, []int{1}, []float32{1})
	if _, err := a.Int64(); err == nil {
		t.Fatal("Int64 of float data did not fail")
	}
	f := rawFile(1, "{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", binary.LittleEndian.AppendUint64(nil, math.MaxUint64))
	a, err := Read(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Int64(); err == nil {
		t.Fatal("Int64 of MaxUint64 did not fail")
	}
	if v, _ := a.Float64(); v[0] != math.MaxUint64 {
		t.Fatalf("Float64 of MaxUint64 = %v", v)
	}
	a.Data = a.Data[:3]
	if _, err := a.Float64(); err == nil {
		t.Fatal("inconsistent Array did not fail")
	}
}

func TestMalformed(t *testing.T) {
	good := "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
	data := make([]byte, 8)
	cases := map[string][]byte{
		"empty":          nil,
		"bad magic":      append([]byte("\x93NUMPZ\x01\x00"), 0, 0),
		"version 4":      rawFile(4, good, data),
		"short header":   rawFile(1, good, data)[:30],
		"truncated data": rawFile(1, good, data[:7]),
		"no data":        rawFile(1, good, nil),
		"overflow shape": rawFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", data),
		"huge dim":       rawFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", data),
		"negative dim":   rawFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", data),
		"over limit":     rawFile(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }", data),
		"structured":     rawFile(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", data),
		"object":         rawFile(1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", data),
		"complex":        rawFile(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", data),
		"missing key":    rawFile(1, "{'descr': '<f4', 'shape': (2,), }", data),
		"extra key":      rawFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", data),
		"unterminated":   rawFile(1, "{'descr': '<f4", data),
		"trailing junk":  rawFile(1, good+" x", data),
		"bool value":     rawFile(1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", data),
		"escape":         rawFile(1, "{'descr': '<f\\4', 'fortran_order': False, 'shape': (2,), }", data),
		"huge header v2": append(append(append([]byte{}, magic...), 2, 0), 0xff, 0xff, 0xff, 0x7f),
		"too many dims":  rawFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': ("+strings.Repeat("1,", 65)+"), }", data),
	}
	for name, b := range cases {
		if _, err := Read(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	_, err := Read(bytes.NewReader(rawFile(1, good, data[:7])))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated data error %v does not wrap io.ErrUnexpectedEOF", err)
	}
	if _, err := ReadWith(bytes.NewReader(rawFile(1, good, data)), Options{MaxBytes: 7}); err == nil {
		t.Error("MaxBytes 7 accepted 8 bytes")
	}
}

// TestTruncatedHugeClaimAllocatesLittle checks that a file claiming 4 GB
// but holding a few bytes fails without allocating the claimed size.
func TestTruncatedHugeClaimAllocatesLittle(t *testing.T) {
	f := rawFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824,), }", make([]byte, 100))
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for i := 0; i < 4; i++ {
		if _, err := Read(bytes.NewReader(f)); err == nil {
			t.Fatal("no error")
		}
	}
	runtime.ReadMemStats(&ms1)
	if d := ms1.TotalAlloc - ms0.TotalAlloc; d > 4*(chunked.Chunk+1<<20) {
		t.Fatalf("4 reads of a truncated 4 GB claim allocated %d bytes", d)
	}
}

// fixtureShapes maps every .npy fixture to the shape its manifest states.
func fixtureShapes(t *testing.T) map[string][]int {
	var man struct {
		Fixtures map[string]struct {
			Input      string `json:"input"`
			InputShape []int  `json:"input_shape"`
			Outputs    []struct {
				File  string `json:"file"`
				Shape []int  `json:"shape"`
			} `json:"outputs"`
		} `json:"fixtures"`
	}
	readJSON(t, fixture.Path(t, "golden", "models", "manifest.json"), &man)
	want := map[string][]int{}
	for _, f := range man.Fixtures {
		want[filepath.Join("models", f.Input)] = f.InputShape
		for _, o := range f.Outputs {
			want[filepath.Join("models", o.File)] = o.Shape
		}
	}
	var sp struct {
		ReorientLPS struct {
			Shape []int `json:"shape"`
		} `json:"reorient_LPS"`
		Resize96 struct {
			Files map[string]string `json:"files"`
		} `json:"resize96"`
		Spacing struct {
			Shape []int  `json:"shape"`
			File  string `json:"file"`
		} `json:"spacing_1mm"`
	}
	readJSON(t, fixture.Path(t, "golden", "preprocess", "spatial_expected.json"), &sp)
	for _, f := range sp.Resize96.Files {
		want[filepath.Join("preprocess", f)] = []int{96, 96, 96}
	}
	want[filepath.Join("preprocess", sp.Spacing.File)] = sp.Spacing.Shape
	// ch2_rigid_linear.npy is the ch2 grid sampled [::4, ::4, ::4].
	var sub []int
	for _, d := range sp.ReorientLPS.Shape {
		sub = append(sub, (d+3)/4)
	}
	want[filepath.Join("preprocess", "ch2_rigid_linear.npy")] = sub
	return want
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func fixtureFiles(t testing.TB) []string {
	root := filepath.Dir(filepath.Dir(fixture.Path(t, "golden", "models", "manifest.json")))
	var files []string
	for _, dir := range []string{"models", "preprocess"} {
		m, _ := filepath.Glob(filepath.Join(root, dir, "*.npy"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no .npy fixtures found")
	}
	return files
}

// TestFixtures reads every .npy in ../shared/golden, checks its shape
// against the manifests, that values are finite, and that writing it back
// reproduces the file byte for byte (numpy.save wrote them).
func TestFixtures(t *testing.T) {
	want := fixtureShapes(t)
	root := filepath.Dir(filepath.Dir(fixture.Path(t, "golden", "models", "manifest.json")))
	for _, path := range fixtureFiles(t) {
		rel, _ := filepath.Rel(root, path)
		a, err := ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		ws, ok := want[rel]
		if !ok {
			t.Errorf("%s: not described by any manifest", rel)
		} else if !reflect.DeepEqual(a.Shape, ws) {
			t.Errorf("%s: shape %v, manifest says %v", rel, a.Shape, ws)
		}
		v, err := a.Float32()
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		for i, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Errorf("%s: non-finite value at %d", rel, i)
				break
			}
		}
		orig, _ := os.ReadFile(path)
		var buf bytes.Buffer
		if err := Write(&buf, a.Shape, v); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), orig) {
			t.Errorf("%s: rewriting does not reproduce the numpy file", rel)
		}
	}
}

func TestWriteToRoundTrip(t *testing.T) {
	a := roundTrip(t, []int{2, 2}, []int32{1, -2, 3, -4})
	var buf bytes.Buffer
	if _, err := a.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	b, err := Read(&buf)
	if err != nil || !reflect.DeepEqual(a, b) {
		t.Fatalf("WriteTo round trip: %v %+v %+v", err, a, b)
	}
}

func FuzzRead(f *testing.F) {
	for _, p := range fixtureFiles(f) {
		b, err := os.ReadFile(p)
		if err == nil && len(b) < 1<<20 {
			f.Add(b)
		}
	}
	f.Add(rawFile(1, "{'descr': '<u2', 'fortran_order': True, 'shape': (2, 3, 1), }\n", make([]byte, 12)))
	f.Add(rawFile(2, "{'descr': '>f8', 'fortran_order': False, 'shape': (), }\n", make([]byte, 8)))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ReadWith(bytes.NewReader(b), Options{MaxBytes: 1 << 24})
		if err != nil {
			return
		}
		if _, err := a.Float64(); err != nil {
			t.Fatalf("Float64 of a valid array: %v", err)
		}
		var buf bytes.Buffer
		if _, err := a.WriteTo(&buf); err != nil {
			t.Fatalf("WriteTo of a valid array: %v", err)
		}
		c, err := Read(&buf)
		if err != nil || !bytes.Equal(c.Data, a.Data) || c.DType != a.DType {
			t.Fatalf("rewrite round trip: %v", err)
		}
	})
}

// A WriteFile that fails validation leaves an existing file untouched
// (issue 12: it was truncated to 0 bytes) and creates nothing new.
func TestWriteFileFailureKeepsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.npy")
	if err := os.WriteFile(path, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []int{3}, []float32{1, 2}); err == nil {
		t.Fatal("2 values for shape [3] accepted")
	}
	if b, _ := os.ReadFile(path); string(b) != "old contents" {
		t.Fatalf("failed WriteFile changed the file to %q", b)
	}
	if err := WriteFile(filepath.Join(dir, "b.npy"), []int{2}, "not an array"); err == nil {
		t.Fatal("unsupported data accepted")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d files in the directory after failed writes, want 1", len(ents))
	}
	if err := WriteFile(path, []int{2}, []float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	a, err := ReadFile(path)
	if err != nil || len(a.Data) != 8 {
		t.Fatalf("rewritten file: %v", err)
	}
}
