package register

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
	"github.com/metasurv/metasurv/internal/npy"
	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/volume"
)

func loadFixtureVolume(t testing.TB, name string) *volume.Volume {
	t.Helper()
	v, err := nifti.Load(fixture.Path(t, "testdata", "nifti", name), nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRigidResampleParity checks Resample against scipy's
// affine_transform(order=1, cval=0) on ch2 (spatial_expected.json).
func TestRigidResampleParity(t *testing.T) {
	var spec struct {
		RigidResample struct {
			W       [4][4]float64 `json:"W"`
			SumFull float64       `json:"sum_full"`
		} `json:"rigid_resample"`
	}
	b, err := os.ReadFile(fixture.Path(t, "golden", "preprocess", "spatial_expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	arr, err := npy.ReadFile(fixture.Path(t, "golden", "preprocess", "ch2_rigid_linear.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := arr.Float32()
	if err != nil {
		t.Fatal(err)
	}
	ch2 := loadFixtureVolume(t, "ch2.nii.gz")
	out, err := Resample(ch2, GridOf(ch2), volume.Affine(spec.RigidResample.W), volume.Linear, 0)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, v := range out.Data {
		sum += float64(v)
	}
	if rel := math.Abs(sum-spec.RigidResample.SumFull) / spec.RigidResample.SumFull; rel > 1e-4 {
		t.Errorf("sum %.1f, want %.1f (relative error %.2g)", sum, spec.RigidResample.SumFull, rel)
	}
	sh := arr.Shape
	if len(sh) != 3 || sh[0] != (ch2.Dims[0]+3)/4 || sh[1] != (ch2.Dims[1]+3)/4 || sh[2] != (ch2.Dims[2]+3)/4 {
		t.Fatalf("fixture shape %v does not match ch2 dims %v subsampled by 4", sh, ch2.Dims)
	}
	var maxErr, maxVal float64
	for a := 0; a < sh[0]; a++ {
		for b := 0; b < sh[1]; b++ {
			for c := 0; c < sh[2]; c++ {
				w := float64(want[(a*sh[1]+b)*sh[2]+c])
				g := float64(out.At(4*a, 4*b, 4*c))
				maxErr = math.Max(maxErr, math.Abs(g-w))
				maxVal = math.Max(maxVal, math.Abs(w))
			}
		}
	}
	if maxErr > 1e-4*maxVal {
		t.Errorf("max abs error %.3g over the [::4]^3 voxels (max value %.3g)", maxErr, maxVal)
	}
	t.Logf("sum %.1f (want %.1f), max abs error %.3g of %.3g", sum, spec.RigidResample.SumFull, maxErr, maxVal)
}
