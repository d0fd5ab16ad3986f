package nifti

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
	"github.com/metasurv/metasurv/volume"
)

var allDatatypes = []Datatype{DTUint8, DTInt8, DTInt16, DTUint16, DTInt32, DTUint32, DTInt64, DTUint64,
	DTFloat32, DTFloat64, DTComplex64, DTComplex128, DTRGB24, DTRGBA32}

// richImage returns a 4-D image of type dt with every optional header
// field set (to values exact in float32) and two extensions, filled with
// random bytes.
func richImage(dt Datatype, version int, bo binary.ByteOrder, rng *rand.Rand) *Image {
	h := Header{
		Version: version, ByteOrder: bo, DimInfo: 0x39,
		Dim:      [8]int64{4, 3, 4, 2, 2, 1, 1, 1},
		IntentP1: 1.5, IntentP2: -2, IntentP3: 0.25, IntentCode: 3, IntentName: "ttest",
		Datatype: dt, Bitpix: int16(8 * dt.Size()), SliceStart: 1, SliceEnd: 2, SliceCode: 1,
		Pixdim:   [8]float64{-1, 0.5, 1.25, 3, 2.5, 1, 1, 1},
		SclSlope: 0.5, SclInter: -8, XYZTUnits: UnitsMM | UnitsSec,
		CalMax: 100, CalMin: -100, SliceDuration: 0.125, TOffset: 4,
		Descrip: "FSL\x00 embedded nul kept", AuxFile: "aux.txt",
		QformCode: 1, SformCode: 4,
		QuaternB: 0.25, QuaternC: -0.5, QuaternD: 0.125,
		QOffsetX: -90, QOffsetY: 126.5, QOffsetZ: -72.25,
		SrowX: [4]float64{-0.5, 0, 0.125, 90}, SrowY: [4]float64{0, 1.25, 0, -126},
		SrowZ: [4]float64{0, 0.25, 3, -72},
	}
	img := &Image{Header: h, Extensions: []Extension{
		{Code: 6, Data: []byte("a comment padded..............")[:24]},
		{Code: 4, Data: bytes.Repeat([]byte{0xAB}, 40)},
	}}
	n, _ := h.DataBytes()
	img.Data = make([]byte, n)
	for i := range img.Data {
		img.Data[i] = byte(rng.IntN(256))
	}
	return img
}

// TestRoundTripAllFormats writes and reads back every datatype in NIfTI-1
// and NIfTI-2, both byte orders, single file and pair, plain and gzipped,
// and requires the header, extensions and voxels to come back unchanged.
func TestRoundTripAllFormats(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dt := range allDatatypes {
		for _, version := range []int{1, 2} {
			for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
				for _, pair := range []bool{false, true} {
					for _, gz := range []bool{false, true} {
						name := fmt.Sprintf("%s/v%d/%v/pair=%v/gz=%v", dt, version, bo, pair, gz)
						want := richImage(dt, version, bo, rng)
						got := writeRead(t, want, pair, gz)
						compareImages(t, name, got, want)
					}
				}
			}
		}
	}
}

func writeRead(t *testing.T, img *Image, pair, gz bool) *Image {
	t.Helper()
	var hb, db bytes.Buffer
	opts := &WriteOptions{Compress: gz}
	var got *Image
	var err error
	if pair {
		if err := WritePair(&hb, &db, img, opts); err != nil {
			t.Fatal(err)
		}
		got, err = ReadPair(&hb, &db, nil)
	} else {
		if err := Write(&hb, img, opts); err != nil {
			t.Fatal(err)
		}
		got, err = Read(&hb, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func compareImages(t *testing.T, name string, got, want *Image) {
	t.Helper()
	g, w := got.Header, want.Header
	g.VoxOffset, w.VoxOffset, g.Pair, w.Pair = 0, 0, false, false
	if g != w {
		t.Fatalf("%s: header\n got %+v\nwant %+v", name, g, w)
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Fatalf("%s: voxel data differ", name)
	}
	if fmt.Sprint(got.Extensions) != fmt.Sprint(want.Extensions) {
		t.Fatalf("%s: extensions\n got %v\nwant %v", name, got.Extensions, want.Extensions)
	}
}

// TestFixtureRewriteByteExact reads every fixture, writes it back in its
// own format and requires extensions and voxel bytes to be identical to
// the original file's, and the header to decode to the same fields.
func TestFixtureRewriteByteExact(t *testing.T) {
	for name := range loadExpected(t) {
		path := fixture.Path(t, "testdata", "nifti", name)
		img, err := LoadImage(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		out := filepath.Join(dir, name)
		if err := SaveImage(out, img, nil); err != nil {
			t.Fatal(err)
		}
		back, err := LoadImage(out, nil)
		if err != nil {
			t.Fatal(err)
		}
		compareImages(t, name, back, img)
	}
	// The extension of with_extension_i32.nii is byte-identical on disk.
	orig, err := os.ReadFile(fixture.Path(t, "testdata", "nifti", "with_extension_i32.nii"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := Read(bytes.NewReader(orig), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Extensions) == 0 {
		t.Fatal("with_extension_i32.nii: no extension read")
	}
	var buf bytes.Buffer
	if err := Write(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	re := buf.Bytes()
	if !bytes.Equal(re[SizeofHdr1:], orig[SizeofHdr1:]) {
		t.Errorf("extensions+data differ after rewrite (%d vs %d bytes)", len(re), len(orig))
	}
}

// TestQformNibabel compares SetQform/Qform with nibabel 5.0.0's
// set_qform/get_qform on a sheared, flipped, oblique affine (values printed
// by nibabel on this machine).
func TestQformNibabel(t *testing.T) {
	c, s := math.Cos(0.3), math.Sin(0.3)
	a := volume.Affine{{-0.9 * c, 0.05, 1.2 * s, 10.5}, {0, 1.1, 0, -20.25}, {-0.9 * s, 0.1, -1.2 * c, 30}, {0, 0, 0, 1}}
	h := Header{Version: 2}
	if err := h.SetQform(a, 2); err != nil {
		t.Fatal(err)
	}
	wantQ := [3]float64{0.014580720867394903, 0.9884540704575352, 0.020700601472178}
	wantP := [4]float64{1, 0.9000000000000001, 1.1056672193747992, 1.2000000000000002}
	gotQ := [3]float64{h.QuaternB, h.QuaternC, h.QuaternD}
	for i := range wantQ {
		if math.Abs(gotQ[i]-wantQ[i]) > 1e-12 {
			t.Errorf("quaternion %v, nibabel %v", gotQ, wantQ)
		}
	}
	for i := range wantP {
		if math.Abs(h.Pixdim[i]-wantP[i]) > 1e-12 {
			t.Errorf("pixdim %v, nibabel %v", h.Pixdim[:4], wantP)
		}
	}
	q, err := h.Qform()
	if err != nil {
		t.Fatal(err)
	}
	want := volume.Affine{
		{-8.5944593574968398e-01, 2.5032096771387350e-02, 3.5512128527887254e-01, 10.5},
		{3.1508712594473645e-02, 1.1042495056173400e+00, 4.3880103999328651e-02, -20.25},
		{-2.6525437706848359e-01, 5.0064193542774818e-02, -1.1454097123801990e+00, 30},
		{0, 0, 0, 1}}
	checkAffine(t, "qform", q, want, 1e-12)
	// An affine with a zero column has no qform.
	a[0][1], a[1][1], a[2][1] = 0, 0, 0
	if err := h.SetQform(a, 2); err == nil {
		t.Error("SetQform accepted a zero column")
	}
}

// TestConvertScaling checks Float32/Float64 for every scalar datatype
// against values encoded independently, with and without scaling,
// including the extremes of each integer type.
func TestConvertScaling(t *testing.T) {
	type enc func(b []byte, x float64)
	le := binary.LittleEndian
	encoders := map[Datatype]enc{
		DTUint8:   func(b []byte, x float64) { b[0] = uint8(x) },
		DTInt8:    func(b []byte, x float64) { b[0] = byte(int8(x)) },
		DTInt16:   func(b []byte, x float64) { le.PutUint16(b, uint16(int16(x))) },
		DTUint16:  func(b []byte, x float64) { le.PutUint16(b, uint16(x)) },
		DTInt32:   func(b []byte, x float64) { le.PutUint32(b, uint32(int32(x))) },
		DTUint32:  func(b []byte, x float64) { le.PutUint32(b, uint32(x)) },
		DTInt64:   func(b []byte, x float64) { le.PutUint64(b, uint64(int64(x))) },
		DTUint64:  func(b []byte, x float64) { le.PutUint64(b, uint64(x)) },
		DTFloat32: func(b []byte, x float64) { le.PutUint32(b, math.Float32bits(float32(x))) },
		DTFloat64: func(b []byte, x float64) { le.PutUint64(b, math.Float64bits(x)) },
	}
	ranges := map[Datatype][2]float64{
		DTUint8: {0, 255}, DTInt8: {-128, 127}, DTInt16: {-32768, 32767}, DTUint16: {0, 65535},
		DTInt32: {math.MinInt32, math.MaxInt32}, DTUint32: {0, math.MaxUint32},
		DTInt64: {-(1 << 62), 1 << 62}, DTUint64: {0, 1 << 63},
		DTFloat32: {-1e30, 1e30}, DTFloat64: {-1e300, 1e300},
	}
	for dt, put := range encoders {
		r := ranges[dt]
		// Enough values for the 8-wide fast paths and their tails.
		vals := []float64{r[0], r[1], 0, 1, math.Round((r[0] + r[1]) / 3)}
		for k := 0; k < 16; k++ {
			vals = append(vals, math.Round(r[0]+(r[1]-r[0])*float64(k*k)/225))
		}
		for _, si := range [][2]float64{{1, 0}, {0.25, -3}, {0, 7}, {math.NaN(), 1}} {
			img := &Image{Header: Header{Version: 1, Datatype: dt, Dim: [8]int64{1, int64(len(vals))},
				SclSlope: si[0], SclInter: si[1]}}
			img.Data = make([]byte, dt.Size()*len(vals))
			for i, v := range vals {
				put(img.Data[i*dt.Size():], v)
			}
			f32, err := img.Float32()
			if err != nil {
				t.Fatal(err)
			}
			f64, err := img.Float64()
			if err != nil {
				t.Fatal(err)
			}
			slope, inter := img.Header.SlopeInter()
			for i, v := range vals {
				if dt == DTFloat32 {
					v = float64(float32(v))
				}
				want := v*slope + inter
				if f64[i] != want || f32[i] != float32(want) {
					t.Errorf("%s slope/inter %v: value %v -> %v / %v, want %v", dt, si, v, f64[i], f32[i], want)
				}
			}
		}
	}
}

// TestComplexRGBKeptRaw checks the documented choice for complex and RGB
// voxels: raw bytes kept, conversion to real values refused with ErrDatatype.
func TestComplexRGBKeptRaw(t *testing.T) {
	for _, dt := range []Datatype{DTComplex64, DTComplex128, DTRGB24, DTRGBA32} {
		img := richImage(dt, 1, binary.LittleEndian, rand.New(rand.NewPCG(3, 4)))
		if _, err := img.Float32(); !errors.Is(err, ErrDatatype) {
			t.Errorf("%s: Float32 error %v, want ErrDatatype", dt, err)
		}
		if _, err := img.Volume(0); !errors.Is(err, ErrDatatype) {
			t.Errorf("%s: Volume error %v, want ErrDatatype", dt, err)
		}
		in, err := Inspect(img)
		if err != nil || in.Sum != nil {
			t.Errorf("%s: Inspect = %v, %v; want no statistics", dt, in, err)
		}
	}
}

// TestVolumesOf4D checks that each frame of a 4-D fixture is the matching
// slice of the whole data.
func TestVolumesOf4D(t *testing.T) {
	img, err := LoadImage(fixture.Path(t, "testdata", "nifti", "functional.nii"), nil)
	if err != nil {
		t.Fatal(err)
	}
	all, err := img.Float32()
	if err != nil {
		t.Fatal(err)
	}
	vols, err := img.Volumes()
	if err != nil {
		t.Fatal(err)
	}
	if len(vols) != 20 {
		t.Fatalf("%d volumes, want 20", len(vols))
	}
	n := len(vols[0].Data)
	for f, v := range vols {
		if !slicesEqual(v.Data, all[f*n:(f+1)*n]) {
			t.Fatalf("volume %d differs from Float32 slice", f)
		}
	}
	if _, err := img.Volume(20); err == nil {
		t.Error("Volume(20) of 20 volumes succeeded")
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestNumberJSON checks the JSON spelling of finite and non-finite numbers.
func TestNumberJSON(t *testing.T) {
	for x, want := range map[float64]string{math.NaN(): `"NaN"`, math.Inf(1): `"Infinity"`, math.Inf(-1): `"-Infinity"`,
		77913290.36292362: "77913290.36292362", 1e-7: "1e-07", 0.5: "0.5", -3: "-3"} {
		got, err := Number(x).MarshalJSON()
		if err != nil || string(got) != want {
			t.Errorf("Number(%v) = %s, %v; want %s", x, got, err, want)
		}
	}
}
