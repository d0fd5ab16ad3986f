package volume_test

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
	"github.com/metasurv/metasurv/internal/npy"
	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/volume"
)

// spatialExpected is the part of spatial_expected.json this package proves.
type spatialExpected struct {
	ReorientLPS struct {
		Shape   [3]int             `json:"shape"`
		Affine  volume.Affine      `json:"affine"`
		Sum     float64            `json:"sum"`
		Samples map[string]float64 `json:"samples"`
	} `json:"reorient_LPS"`
	Resize96 struct {
		Files map[string]string `json:"files"`
	} `json:"resize96"`
	Spacing1mm struct {
		Shape  [3]int        `json:"shape"`
		Affine volume.Affine `json:"affine"`
		File   string        `json:"file"`
	} `json:"spacing_1mm"`
}

func loadExpected(t *testing.T) *spatialExpected {
	t.Helper()
	b, err := os.ReadFile(fixture.Path(t, "golden", "preprocess", "spatial_expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e spatialExpected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

var (
	volCacheMu sync.Mutex
	volCache   = map[string]*volume.Volume{}
)

// loadNifti loads a test scan once per test binary.
func loadNifti(t testing.TB, name string) *volume.Volume {
	t.Helper()
	path := fixture.Path(t, "testdata", "nifti", name)
	volCacheMu.Lock()
	defer volCacheMu.Unlock()
	if v, ok := volCache[path]; ok {
		return v
	}
	v, err := nifti.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	volCache[path] = v
	return v
}

// loadNpy3 reads a C-order [i,j,k] float array into a volume's voxel order.
func loadNpy3(t *testing.T, name string) ([3]int, []float32) {
	t.Helper()
	a, err := npy.ReadFile(fixture.Path(t, "golden", "preprocess", name))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Shape) != 3 {
		t.Fatalf("%s has shape %v, want 3-D", name, a.Shape)
	}
	c, err := a.Float32()
	if err != nil {
		t.Fatal(err)
	}
	dims := [3]int{a.Shape[0], a.Shape[1], a.Shape[2]}
	out := make([]float32, len(c))
	n := 0
	for i := 0; i < dims[0]; i++ {
		for j := 0; j < dims[1]; j++ {
			for k := 0; k < dims[2]; k++ {
				out[i+dims[0]*(j+dims[1]*k)] = c[n]
				n++
			}
		}
	}
	return dims, out
}

// maxAbsDiff returns max |a−b| and the range max(b) − min(b).
func maxAbsDiff(a, b []float32) (diff, rng float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range a {
		diff = math.Max(diff, math.Abs(float64(a[i])-float64(b[i])))
		lo, hi = math.Min(lo, float64(b[i])), math.Max(hi, float64(b[i]))
	}
	return diff, hi - lo
}

func parseIndex(t *testing.T, s string) [3]int {
	var idx [3]int
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		t.Fatalf("bad sample key %q", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			t.Fatalf("bad sample key %q", s)
		}
		idx[i] = n
	}
	return idx
}

// nibabel: as_reoriented(ornt_transform(io_orientation(A), axcodes2ornt("LPS"))) on ch2.
func TestParityReorientLPS(t *testing.T) {
	e := loadExpected(t)
	v := loadNifti(t, "ch2.nii.gz")
	r, err := v.Reorient(volume.LPS)
	if err != nil {
		t.Fatal(err)
	}
	want := e.ReorientLPS
	if r.Dims != want.Shape || r.Affine != want.Affine {
		t.Fatalf("LPS: dims %v affine %v, want %v %v", r.Dims, r.Affine, want.Shape, want.Affine)
	}
	for key, x := range want.Samples {
		idx := parseIndex(t, key)
		if got := r.At(idx[0], idx[1], idx[2]); float64(got) != x {
			t.Errorf("LPS sample %s = %g, want %g", key, got, x)
		}
	}
	// The fixture's sum is numpy's float32 pairwise sum; the data are
	// integers, so the exact float64 sum may differ from it only by float32
	// rounding of partial sums: allow 4 float32 ulps at its magnitude.
	var sum float64
	for _, x := range r.Data {
		sum += float64(x)
	}
	ulp := math.Pow(2, math.Floor(math.Log2(want.Sum))-23)
	if d := math.Abs(sum - want.Sum); d > 4*ulp {
		t.Errorf("LPS sum %.1f, fixture %.1f (float32 sum): differ by %.1f > 4 ulp", sum, want.Sum, d)
	}
	t.Logf("LPS sum %.0f vs fixture float32 sum %.0f", sum, want.Sum)
}

// MONAI Resize((96,96,96), mode) on ch2 (1,181,217,181).
func TestParityResize96(t *testing.T) {
	e := loadExpected(t)
	v := loadNifti(t, "ch2.nii.gz")
	for _, mode := range []volume.ResizeMode{volume.ResizeArea, volume.ResizeTrilinear, volume.ResizeNearest} {
		file, ok := e.Resize96.Files[mode.String()]
		if !ok {
			t.Fatalf("no fixture for mode %v", mode)
		}
		dims, want := loadNpy3(t, file)
		r, err := v.Resize(dims, mode)
		if err != nil {
			t.Fatal(err)
		}
		diff, rng := maxAbsDiff(r.Data, want)
		t.Logf("resize96 %v: max |Δ| = %g (range %g)", mode, diff, rng)
		if diff > 1e-3*rng {
			t.Errorf("resize96 %v: max |Δ| = %g > 1e-3 of range %g", mode, diff, rng)
		}
		// Stricter than the bound: the index and float32 arithmetic
		// follow torch's kernels, so area and nearest agree bit for bit and
		// trilinear to float32 rounding (its FMA is emulated in float64).
		if strict := map[volume.ResizeMode]float64{volume.ResizeArea: 0, volume.ResizeNearest: 0,
			volume.ResizeTrilinear: 1e-4}[mode]; diff > strict {
			t.Errorf("resize96 %v: max |Δ| = %g, want ≤ %g (torch's arithmetic)", mode, diff, strict)
		}
	}
}

// MONAI Spacing(pixdim=(1,1,1), mode='bilinear') on inia19 (0.5 mm).
func TestParitySpacing1mm(t *testing.T) {
	e := loadExpected(t)
	v := loadNifti(t, "inia19-t1-brain.nii.gz")
	r, err := v.ResampleToSpacing([3]float64{1, 1, 1}, volume.SpacingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := e.Spacing1mm
	if r.Dims != want.Shape || r.Affine != want.Affine {
		t.Fatalf("spacing: dims %v affine %v, want %v %v", r.Dims, r.Affine, want.Shape, want.Affine)
	}
	dims, data := loadNpy3(t, want.File)
	if dims != r.Dims {
		t.Fatalf("fixture dims %v", dims)
	}
	diff, rng := maxAbsDiff(r.Data, data)
	t.Logf("spacing_1mm: max |Δ| = %g (range %g)", diff, rng)
	if diff > 1e-3*rng {
		t.Errorf("spacing_1mm: max |Δ| = %g > 1e-3 of range %g", diff, rng)
	}
}

// The grid of SpacingGrid alone matches too, for a few other spacings of
// the same scan whose shapes follow from compute_shape_offset by hand:
// round((n−1)·0.5/p + 1) with ties to even.
func TestSpacingGridInia19(t *testing.T) {
	v := loadNifti(t, "inia19-t1-brain.nii.gz")
	for _, p := range [][3]float64{{2, 2, 2}, {0.7, 1.5, 3}, {0.5, 0.5, 0.5}} {
		dims, a, err := volume.SpacingGrid(v.Dims, v.Affine, p, volume.SpacingOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for r := 0; r < 3; r++ {
			want := int(math.RoundToEven(float64(v.Dims[r]-1)*0.5/p[r] + 1))
			if dims[r] != want || math.Abs(a[r][r]-p[r]) > 1e-12 || a[r][3] != v.Affine[r][3] {
				t.Errorf("pixdim %v: axis %d dims %d affine row %v, want %d, %g, origin %g",
					p, r, dims[r], a[r], want, p[r], v.Affine[r][3])
			}
		}
	}
}
