package nifti

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
)

// jnum decodes a JSON number or Python's bare NaN/Infinity (rewritten to
// strings by loadExpected).
type jnum float64

func (x *jnum) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		f, err := strconv.ParseFloat(s, 64)
		*x = jnum(f)
		return err
	}
	var f float64
	err := json.Unmarshal(b, &f)
	*x = jnum(f)
	return err
}

// expectedFile is one entry of nifti_expected.json (nibabel 5.0.0).
type expectedFile struct {
	Version   int             `json:"nifti_version"`
	Shape     []int           `json:"shape"`
	Dtype     string          `json:"on_disk_dtype"`
	Zooms     []jnum          `json:"zooms"`
	Affine    [4][4]jnum      `json:"affine"`
	QformCode int32           `json:"qform_code"`
	SformCode int32           `json:"sform_code"`
	Qform     *[4][4]jnum     `json:"qform"`
	Sform     *[4][4]jnum     `json:"sform"`
	Axcodes   [3]string       `json:"axcodes"`
	RawSI     [2]jnum         `json:"raw_scl_slope_inter"`
	AppliedSI [2]jnum         `json:"applied_slope_inter"`
	Sum       jnum            `json:"scaled_sum"`
	Min       jnum            `json:"scaled_min"`
	Max       jnum            `json:"scaled_max"`
	Samples   map[string]jnum `json:"fortran_order_samples"`
	XYZTUnits [2]string       `json:"xyzt_units"`
	Descrip   string          `json:"descrip"`
}

func loadExpected(t testing.TB) map[string]expectedFile {
	t.Helper()
	raw, err := os.ReadFile(fixture.Path(t, "golden", "preprocess", "nifti_expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	raw = regexp.MustCompile(`([\[:,]\s*)(-?Infinity|NaN)`).ReplaceAll(raw, []byte(`$1"$2"`))
	var doc struct {
		Files map[string]expectedFile `json:"files"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Files) == 0 {
		t.Fatal("no files in nifti_expected.json")
	}
	return doc.Files
}

// same compares floats with a relative tolerance, NaN equal to NaN.
func same(got, want, rel float64) bool {
	if math.IsNaN(want) || math.IsNaN(got) {
		return math.IsNaN(want) && math.IsNaN(got)
	}
	return math.Abs(got-want) <= rel*math.Max(1, math.Abs(want))
}

func checkMat(t *testing.T, what string, got [4][4]Number, want [4][4]jnum, rel float64) {
	t.Helper()
	for i := range got {
		for j := range got[i] {
			if !same(float64(got[i][j]), float64(want[i][j]), rel) {
				t.Errorf("%s[%d][%d] = %.17g, nibabel %.17g", what, i, j, float64(got[i][j]), float64(want[i][j]))
			}
		}
	}
}

// TestParityNibabel reads every fixture and compares with what nibabel
// 5.0.0 reads from it (header fields, affines, axcodes, scaling, data
// statistics and samples).
func TestParityNibabel(t *testing.T) {
	exp := loadExpected(t)
	names := make([]string, 0, len(exp))
	for n := range exp {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		want := exp[name]
		t.Run(name, func(t *testing.T) {
			img, err := LoadImage(fixture.Path(t, "testdata", "nifti", name), nil)
			if err != nil {
				t.Fatal(err)
			}
			in, err := Inspect(img)
			if err != nil {
				t.Fatal(err)
			}
			checkInfo(t, in, want)
			checkSamples(t, img, want)
		})
	}
}

func checkInfo(t *testing.T, in *Info, want expectedFile) {
	t.Helper()
	if in.Version != want.Version || fmt.Sprint(in.Shape) != fmt.Sprint(want.Shape) || in.Dtype != want.Dtype {
		t.Errorf("version/shape/dtype = %d %v %s, nibabel %d %v %s", in.Version, in.Shape, in.Dtype, want.Version, want.Shape, want.Dtype)
	}
	if len(in.Zooms) != len(want.Zooms) {
		t.Errorf("zooms %v, nibabel %v", in.Zooms, want.Zooms)
	}
	for i := range min(len(in.Zooms), len(want.Zooms)) {
		if !same(float64(in.Zooms[i]), float64(want.Zooms[i]), 0) {
			t.Errorf("zoom %d = %v, nibabel %v", i, in.Zooms[i], want.Zooms[i])
		}
	}
	const rel = 1e-12
	checkMat(t, "affine", in.Affine, want.Affine, rel)
	if in.QformCode != want.QformCode || in.SformCode != want.SformCode {
		t.Errorf("qform/sform codes %d/%d, nibabel %d/%d", in.QformCode, in.SformCode, want.QformCode, want.SformCode)
	}
	if (in.Qform == nil) != (want.Qform == nil) || (in.Sform == nil) != (want.Sform == nil) {
		t.Errorf("qform/sform presence %v/%v, nibabel %v/%v", in.Qform != nil, in.Sform != nil, want.Qform != nil, want.Sform != nil)
	}
	if in.Qform != nil && want.Qform != nil {
		checkMat(t, "qform", *in.Qform, *want.Qform, rel)
	}
	if in.Sform != nil && want.Sform != nil {
		checkMat(t, "sform", *in.Sform, *want.Sform, rel)
	}
	if in.Axcodes != want.Axcodes {
		t.Errorf("axcodes %v, nibabel %v", in.Axcodes, want.Axcodes)
	}
	for i := 0; i < 2; i++ {
		if !same(float64(in.RawSlopeInter[i]), float64(want.RawSI[i]), 0) || !same(float64(in.SlopeInter[i]), float64(want.AppliedSI[i]), 0) {
			t.Errorf("slope/inter raw %v applied %v, nibabel %v %v", in.RawSlopeInter, in.SlopeInter, want.RawSI, want.AppliedSI)
		}
	}
	if in.Sum == nil || !same(float64(*in.Sum), float64(want.Sum), 1e-12) ||
		!same(float64(*in.Min), float64(want.Min), 0) || !same(float64(*in.Max), float64(want.Max), 0) {
		t.Errorf("sum/min/max = %v %v %v, nibabel %v %v %v", in.Sum, in.Min, in.Max, want.Sum, want.Min, want.Max)
	}
	if in.XYZTUnits != want.XYZTUnits || in.Descrip != want.Descrip {
		t.Errorf("units %v descrip %q, nibabel %v %q", in.XYZTUnits, in.Descrip, want.XYZTUnits, want.Descrip)
	}
}

// checkSamples compares single voxels (Fortran-order flat index = our
// index) exactly in float64, and their float32 rounding through Float32.
func checkSamples(t *testing.T, img *Image, want expectedFile) {
	t.Helper()
	f64, err := img.Float64()
	if err != nil {
		t.Fatal(err)
	}
	f32, err := img.Float32()
	if err != nil {
		t.Fatal(err)
	}
	for k, w := range want.Samples {
		i, err := strconv.Atoi(k)
		if err != nil {
			t.Fatal(err)
		}
		if !same(f64[i], float64(w), 0) || !same(float64(f32[i]), float64(float32(w)), 0) {
			t.Errorf("voxel %d = %v (float32 %v), nibabel %v", i, f64[i], f32[i], float64(w))
		}
	}
}

// TestLoadFixtures checks the convenience Load against nibabel on every
// 3-D fixture and its ErrNot3D refusal of 4-D ones.
func TestLoadFixtures(t *testing.T) {
	for name, want := range loadExpected(t) {
		path := fixture.Path(t, "testdata", "nifti", name)
		v, err := Load(path, nil)
		if len(want.Shape) > 3 {
			if err == nil {
				t.Errorf("%s: Load of shape %v succeeded, want ErrNot3D", name, want.Shape)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		checkMat(t, filepath.Base(name)+" affine", numbers(v.Affine), want.Affine, 1e-12)
		var sum float64
		for _, x := range v.Data {
			sum += float64(x)
		}
		if !same(sum, float64(want.Sum), 1e-6) {
			t.Errorf("%s: sum %v, nibabel %v", name, sum, float64(want.Sum))
		}
	}
}
