package register

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

func TestJSONRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 20))
	for _, kind := range []Kind{KindRigid, KindSimilarity, KindAffine} {
		tr := randomTransform(r, kind)
		tr.ZYX = kind == KindRigid
		var b bytes.Buffer
		if err := WriteJSON(&b, tr.Matrix(), &tr); err != nil {
			t.Fatal(err)
		}
		m, got, err := ReadJSON(&b)
		if err != nil {
			t.Fatal(err)
		}
		if m != tr.Matrix() || got == nil || got.Kind != kind || got.ZYX != tr.ZYX || got.Center != tr.Center {
			t.Fatalf("%s: JSON round trip changed the transform", kind)
		}
	}
	var b bytes.Buffer
	m := randomTransform(r, KindAffine).Matrix()
	if err := WriteJSON(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	got, tr, err := ReadJSON(&b)
	if err != nil || got != m || tr != nil {
		t.Fatalf("matrix-only JSON: %v %v %v", got, tr, err)
	}
}

func TestJSONRejects(t *testing.T) {
	for _, s := range []string{
		`{`,
		`{"matrix": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,2]]}`,
		`{"matrix": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]], "kind": "warp"}`,
		`{"matrix": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]], "kind": "rigid", "params": [0.1,0,0,0,0,0]}`,
		`{"matrix": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]], "kind": "rigid", "params": [0,0,0]}`,
		`{"matrix": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]], "kind": "rigid", "params": [0,0,0,0,0,0], "order": "XYZ"}`,
	} {
		if _, _, err := ReadJSON(strings.NewReader(s)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: got %v, want ErrFormat", s, err)
		}
	}
}

func TestITKAndElastixRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 21))
	g := Grid{Dims: [3]int{10, 11, 12}, Affine: volume.Affine{{1, 0, 0, -5}, {0, 1.5, 0, 3}, {0, 0, 2, 1}, {0, 0, 0, 1}}}
	for _, kind := range []Kind{KindRigid, KindSimilarity, KindAffine} {
		for _, zyx := range []bool{false, true} {
			tr := randomTransform(r, kind)
			tr.ZYX = zyx
			var b bytes.Buffer
			if err := WriteITK(&b, tr); err != nil {
				t.Fatal(err)
			}
			got, err := ReadITK(&b)
			if err != nil {
				t.Fatal(err)
			}
			if d := got.Matrix().MaxDifference(tr.Matrix()); d > 1e-9 {
				t.Errorf("%s zyx=%v ITK round trip off by %g", kind, zyx, d)
			}
			b.Reset()
			if err := WriteElastix(&b, tr, g); err != nil {
				t.Fatal(err)
			}
			got, err = ReadElastix(&b)
			if err != nil {
				t.Fatal(err)
			}
			if d := got.Matrix().MaxDifference(tr.Matrix()); d > 1e-9 {
				t.Errorf("%s zyx=%v elastix round trip off by %g", kind, zyx, d)
			}
		}
	}
}

// TestITKIsLPS pins the LPS convention on a hand-made case: a pure RAS
// translation of +1 mm along x (towards the right) is −1 mm in LPS.
func TestITKIsLPS(t *testing.T) {
	tr := NewRigid([3]float64{0, 0, 0.3}, [3]float64{1, 2, 3}, [3]float64{4, 5, 6})
	var b bytes.Buffer
	if err := WriteITK(&b, tr); err != nil {
		t.Fatal(err)
	}
	want := "Transform: Euler3DTransform_double_3_3\nParameters: -0 -0 0.29999999999999999 -1 -2 3\nFixedParameters: -4 -5 6 0\n"
	if !strings.Contains(b.String(), want) {
		t.Fatalf("ITK text:\n%s\nwant it to contain:\n%s", b.String(), want)
	}
}

// TestElastixGridIsLPS pins the fixed-grid geometry written for
// transformix: ch2's RAS affine diag(1, 1, 1), origin (−90, −125, −71) is
// origin (90, 125, −71) with direction diag(−1, −1, 1) in LPS. (Checked
// against transformix 5.0.1: its resampling of ch2 through such a file
// matches Resample(…, volume.BSpline3, 0) to 5e-5 inside the image.)
func TestElastixGridIsLPS(t *testing.T) {
	g := Grid{Dims: [3]int{181, 217, 181}, Affine: volume.Affine{{1, 0, 0, -90}, {0, 1, 0, -125}, {0, 0, 1, -71}, {0, 0, 0, 1}}}
	var b bytes.Buffer
	if err := WriteElastix(&b, NewRigid([3]float64{}, [3]float64{}, [3]float64{}), g); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(Origin 90 125 -71)", "(Direction -1 -0 0 -0 -1 0 -0 -0 1)", "(Size 181 217 181)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("elastix file lacks %s:\n%s", want, b.String())
		}
	}
}

func TestMatRoundTrip(t *testing.T) {
	m := randomTransform(rand.New(rand.NewPCG(22, 22)), KindAffine).Matrix()
	var b bytes.Buffer
	if err := WriteMat(&b, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMat(&b)
	if err != nil || got != m {
		t.Fatalf("mat round trip: %v %v", got, err)
	}
	for _, s := range []string{"1 0 0", "1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 0\n", "1 0 0 x\n0 1 0 0\n0 0 1 0\n0 0 0 1\n"} {
		if _, err := ReadMat(strings.NewReader(s)); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: got %v, want ErrFormat", s, err)
		}
	}
}

func FuzzReadJSON(f *testing.F) {
	f.Add(`{"matrix": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]], "kind": "rigid", "params": [0,0,0,0,0,0]}`)
	f.Add(`{"matrix": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}`)
	f.Fuzz(func(t *testing.T, s string) {
		m, tr, err := ReadJSON(strings.NewReader(s))
		if err != nil {
			return
		}
		if checkMatrix(m) != nil {
			t.Fatal("accepted an invalid matrix")
		}
		if tr != nil && tr.Matrix().MaxDifference(m) > 1e-6 {
			t.Fatal("accepted parameters that disagree with the matrix")
		}
	})
}

func FuzzReadITK(f *testing.F) {
	f.Add("#Insight Transform File V1.0\n#Transform 0\nTransform: Euler3DTransform_double_3_3\nParameters: 0 0 0.3 -1 -2 3\nFixedParameters: -4 -5 6 0\n")
	f.Add("#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\nParameters: 1 0 0 0 1 0 0 0 1 0 0 0\nFixedParameters: 0 0 0\n")
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := ReadITK(strings.NewReader(s))
		if err == nil && tr.check() != nil {
			t.Fatal("accepted an invalid transform")
		}
	})
}

func FuzzReadElastix(f *testing.F) {
	var b bytes.Buffer
	_ = WriteElastix(&b, NewRigid([3]float64{0.1, 0, 0}, [3]float64{1, 2, 3}, [3]float64{}), Grid{Dims: [3]int{2, 2, 2}, Affine: volume.Identity()})
	f.Add(b.String())
	f.Add("(Transform \"AffineTransform\")\n(TransformParameters 1 0 0 0 1 0 0 0 1 0 0 0)\n(CenterOfRotationPoint 0 0 0)\n")
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := ReadElastix(strings.NewReader(s))
		if err == nil && tr.check() != nil {
			t.Fatal("accepted an invalid transform")
		}
	})
}

func FuzzReadMat(f *testing.F) {
	f.Add("1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ReadMat(strings.NewReader(s))
		if err == nil && checkMatrix(m) != nil {
			t.Fatal("accepted an invalid matrix")
		}
	})
}

func TestANTsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 23))
	for _, kind := range []Kind{KindRigid, KindSimilarity, KindAffine} {
		tr := randomTransform(r, kind)
		var b bytes.Buffer
		if err := WriteANTs(&b, tr); err != nil {
			t.Fatal(err)
		}
		got, err := ReadANTs(&b)
		if err != nil {
			t.Fatal(err)
		}
		if d := got.Matrix().MaxDifference(tr.Matrix()); d > 1e-9 {
			t.Errorf("%s: ANTs round trip off by %g", kind, d)
		}
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, make([]byte, 40)} {
		if _, err := ReadANTs(bytes.NewReader(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("%v: got %v, want ErrFormat", bad, err)
		}
	}
}

func FuzzReadANTs(f *testing.F) {
	var b bytes.Buffer
	_ = WriteANTs(&b, NewRigid([3]float64{0.1, 0.2, 0.3}, [3]float64{1, 2, 3}, [3]float64{4, 5, 6}))
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ReadANTs(bytes.NewReader(data))
		if err == nil && tr.check() != nil {
			t.Fatal("accepted an invalid transform")
		}
	})
}
