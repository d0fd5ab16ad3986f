package synth

import (
	"math"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

func TestGridCoversFieldOfView(t *testing.T) {
	fov := [3]float64{180, 216, 180}
	for _, tc := range []struct {
		codes   string
		spacing [3]float64
	}{{"RAS", [3]float64{1, 1, 1}}, {"PIL", [3]float64{2, 1.2, 1.5}}, {"LPS", [3]float64{0.9, 0.9, 3}}} {
		dims, a, err := Grid(fov, tc.spacing, tc.codes)
		if err != nil {
			t.Fatal(err)
		}
		if got := volume.AxCodes(a).String(); got != tc.codes {
			t.Errorf("%s: axcodes %s", tc.codes, got)
		}
		// the world box spanned by voxel edges is centred and of size fov
		lo := a.Apply([3]float64{-0.5, -0.5, -0.5})
		hi := a.Apply([3]float64{float64(dims[0]) - 0.5, float64(dims[1]) - 0.5, float64(dims[2]) - 0.5})
		for w := 0; w < 3; w++ {
			if ext := math.Abs(hi[w] - lo[w]); math.Abs(ext-fov[w]) > 1e-9 {
				t.Errorf("%s: extent along world axis %d is %g, want %g", tc.codes, w, ext, fov[w])
			}
			if c := (hi[w] + lo[w]) / 2; math.Abs(c) > 1e-9 {
				t.Errorf("%s: box centre %g along %d", tc.codes, c, w)
			}
		}
	}
	if _, _, err := Grid(fov, [3]float64{1, 0, 1}, "RAS"); err == nil {
		t.Error("zero spacing accepted")
	}
	if _, _, err := Grid(fov, [3]float64{1, 1, 1}, "RAR"); err == nil {
		t.Error("bad codes accepted")
	}
}

func TestContrastsDifferPerSequence(t *testing.T) {
	dims, a, _ := Grid([3]float64{180, 216, 180}, [3]float64{4, 4, 4}, "RAS")
	var means [4]float64
	for _, s := range Sequences {
		v, err := Head(s, dims, a, HeadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := v.Stats(nil)
		means[s] = st.Mean
		if st.Min < 0 || st.Max > 1.2 {
			t.Errorf("%s: range [%g, %g] outside the contrast table", s, st.Min, st.Max)
		}
	}
	// white matter is bright in T1 and dark in T2
	if contrast[T1][white] <= contrast[T1][grey] || contrast[T2][white] >= contrast[T2][grey] {
		t.Error("contrast table lost the T1/T2 white-matter inversion")
	}
	if means[T1] == means[T2] {
		t.Error("T1 and T2 phantoms are identical")
	}
}

func TestMotionMovesAnatomy(t *testing.T) {
	dims, a, _ := Grid([3]float64{180, 216, 180}, [3]float64{3, 3, 3}, "RAS")
	shift := volume.Translation([3]float64{-9, 0, 0}) // phantom = world − 9 mm: the head moves 9 mm to R
	moved, err := Head(T1, dims, a, HeadOptions{Motion: shift})
	if err != nil {
		t.Fatal(err)
	}
	still, _ := Head(T1, dims, a, HeadOptions{})
	// voxel i of moved equals voxel i−3 of still (3 mm voxels)
	for k := 0; k < dims[2]; k += 7 {
		for j := 0; j < dims[1]; j += 5 {
			for i := 3; i < dims[0]; i += 3 {
				if d := moved.At(i, j, k) - still.At(i-3, j, k); math.Abs(float64(d)) > 1e-5 {
					t.Fatalf("voxel (%d,%d,%d): moved %g, still %g", i, j, k, moved.At(i, j, k), still.At(i-3, j, k))
				}
			}
		}
	}
}

func TestNoiseIsSeeded(t *testing.T) {
	dims, a, _ := Grid([3]float64{60, 60, 60}, [3]float64{3, 3, 3}, "RAS")
	o := HeadOptions{Noise: 0.05, Seed: 7}
	x, _ := Head(FLAIR, dims, a, o)
	y, _ := Head(FLAIR, dims, a, o)
	for i := range x.Data {
		if x.Data[i] != y.Data[i] {
			t.Fatal("same seed gave different noise")
		}
	}
	o.Seed = 8
	z, _ := Head(FLAIR, dims, a, o)
	same := true
	for i := range x.Data {
		same = same && x.Data[i] == z.Data[i]
	}
	if same {
		t.Fatal("different seeds gave identical noise")
	}
}

func TestBadSequence(t *testing.T) {
	dims, a, _ := Grid([3]float64{10, 10, 10}, [3]float64{1, 1, 1}, "RAS")
	if _, err := Head(Sequence(9), dims, a, HeadOptions{}); err == nil {
		t.Fatal("unknown sequence accepted")
	}
	if _, err := BrainMask([3]int{0, 1, 1}, a, HeadOptions{}); err == nil {
		t.Fatal("empty grid accepted")
	}
}

func TestBrainMaskIsTheBrain(t *testing.T) {
	dims, a, _ := Grid([3]float64{180, 216, 180}, [3]float64{3, 3, 3}, "LPS")
	m, err := BrainMask(dims, a, HeadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// its volume is the brain ellipsoid's, 4/3·π·62·80·64 mm³ in 27 mm³ voxels
	want := 4.0 / 3 * math.Pi * 62 * 80 * 64 / 27
	if got := float64(m.Count()); math.Abs(got-want) > 0.03*want {
		t.Errorf("mask has %g voxels, brain ellipsoid %g", got, want)
	}
	// inside it T2 shows no skull or scalp, outside it no white matter
	t2, _ := Head(T2, dims, a, HeadOptions{})
	for i, in := range m.Data {
		v := float64(t2.Data[i])
		if in && v < contrast[T2][white]-0.05 {
			t.Fatalf("voxel %d in the mask has T2 %g, darker than white matter", i, v)
		}
	}
	// the same motion moves the mask with the head
	shift := volume.Translation([3]float64{-9, 0, 0})
	mm, _ := BrainMask(dims, a, HeadOptions{Motion: shift})
	if mm.Count() != m.Count() {
		t.Errorf("a 3-voxel shift changed the mask size: %d vs %d", mm.Count(), m.Count())
	}
}
