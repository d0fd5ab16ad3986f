package volume_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// Examples from numpy's documentation of percentile, mean and std.
func TestStatsNumpyExamples(t *testing.T) {
	a := []float32{10, 7, 4, 3, 2, 1}
	p, err := volume.Percentiles(a, nil, 50)
	if err != nil || p[0] != 3.5 {
		t.Errorf("np.percentile([[10,7,4],[3,2,1]], 50) = %v, %v; want 3.5", p, err)
	}
	// Along axis 0 (columns 10,3 / 7,2 / 4,1): 6.5, 4.5, 2.5.
	for i, want := range []float64{6.5, 4.5, 2.5} {
		p, _ := volume.Percentiles([]float32{a[i], a[i+3]}, nil, 50)
		if p[0] != want {
			t.Errorf("column %d median %g, want %g", i, p[0], want)
		}
	}
	st, err := volume.Describe([]float32{1, 2, 3, 4}, nil)
	if err != nil || st.Mean != 2.5 || math.Abs(st.Std-1.1180339887498949) > 1e-15 || st.Min != 1 || st.Max != 4 || st.N != 4 {
		t.Errorf("Describe([[1,2],[3,4]]) = %+v, %v; want mean 2.5 std 1.1180339887498949", st, err)
	}
}

// Hand-computed linear percentiles of 1..5 and of a masked subset.
func TestPercentilesByHand(t *testing.T) {
	x := []float32{5, 1, 4, 2, 3}
	p, err := volume.Percentiles(x, nil, 0, 10, 25, 50, 62.5, 100)
	if err != nil {
		t.Fatal(err)
	}
	// Positions q/100·4: 0, 0.4, 1, 2, 2.5, 4 → 1, 1.4, 2, 3, 3.5, 5.
	want := []float64{1, 1.4, 2, 3, 3.5, 5}
	for i := range want {
		if math.Abs(p[i]-want[i]) > 1e-15 {
			t.Errorf("percentiles = %v, want %v", p, want)
			break
		}
	}
	mask := &volume.Mask{Dims: [3]int{5, 1, 1}, Data: []bool{true, false, true, false, true}} // 5, 4, 3
	p, _ = volume.Percentiles(x, mask, 75, 25)
	if p[0] != 4.5 || p[1] != 3.5 {
		t.Errorf("masked percentiles (75, 25) = %v, want [4.5 3.5]", p)
	}
	st, _ := volume.Describe(x, mask)
	if st.N != 3 || st.Mean != 4 || math.Abs(st.Std-math.Sqrt(2.0/3)) > 1e-15 {
		t.Errorf("masked Describe = %+v, want N 3 mean 4 std √(2/3)", st)
	}
}

// refPercentile sorts and applies numpy's linear rule.
func refPercentile(x []float32, q float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	vi := q / 100 * float64(len(s)-1)
	lo := int(math.Floor(vi))
	hi := min(lo+1, len(s)-1)
	g := vi - float64(lo)
	a, b := float64(s[lo]), float64(s[hi])
	if g >= 0.5 {
		return b - (b-a)*(1-g)
	}
	return a + (b-a)*g
}

// Selection-based percentiles equal the sort-based reference on random
// data with many ties (as MRI backgrounds have) and on sorted, reversed
// and constant inputs.
func TestPercentilesMatchSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	qs := []float64{0, 0.5, 1, 2.5, 25, 50, 73.3, 99, 99.5, 100}
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(3000)
		x := make([]float32, n)
		for i := range x {
			switch trial % 4 {
			case 0:
				x[i] = float32(rng.IntN(5))
			case 1:
				x[i] = float32(rng.NormFloat64())
			case 2:
				x[i] = float32(i)
			case 3:
				x[i] = float32(n - i)
			}
		}
		if trial%4 == 0 && trial%8 == 0 {
			for i := range x {
				x[i] = 7
			}
		}
		orig := slices.Clone(x)
		p, err := volume.Percentiles(x, nil, qs...)
		if err != nil {
			t.Fatal(err)
		}
		for i, q := range qs {
			if want := refPercentile(orig, q); p[i] != want {
				t.Fatalf("trial %d n %d q %g: %g, want %g", trial, n, q, p[i], want)
			}
		}
		if !slices.Equal(x, orig) {
			t.Fatal("Percentiles modified its input")
		}
	}
}

func TestStatsEdgeCases(t *testing.T) {
	if _, err := volume.Percentiles([]float32{1, 2}, &volume.Mask{Dims: [3]int{2, 1, 1}, Data: []bool{false, false}}, 50); !errors.Is(err, volume.ErrEmpty) {
		t.Errorf("empty selection: %v, want ErrEmpty", err)
	}
	if _, err := volume.Describe(nil, nil); !errors.Is(err, volume.ErrEmpty) {
		t.Errorf("Describe(nil): %v, want ErrEmpty", err)
	}
	if _, err := volume.Percentiles([]float32{1, 2}, &volume.Mask{Dims: [3]int{1, 1, 1}, Data: []bool{true}}, 50); !errors.Is(err, volume.ErrShape) {
		t.Errorf("short mask: %v, want ErrShape", err)
	}
	if _, err := volume.Describe([]float32{1, 2}, &volume.Mask{Dims: [3]int{3, 1, 1}, Data: []bool{true, true}}); !errors.Is(err, volume.ErrShape) {
		t.Errorf("mask inconsistent with its dims: %v, want ErrShape", err)
	}
	for _, q := range []float64{-1, 100.5, math.NaN()} {
		if _, err := volume.Percentiles([]float32{1, 2}, nil, q); err == nil {
			t.Errorf("percentile %g accepted", q)
		}
	}
	nan := []float32{1, float32(math.NaN()), 3}
	p, _ := volume.Percentiles(nan, nil, 50)
	st, _ := volume.Describe(nan, nil)
	if !math.IsNaN(p[0]) || !math.IsNaN(st.Mean) || !math.IsNaN(st.Max) {
		t.Errorf("NaN input: percentile %v stats %+v, want NaN", p, st)
	}
	// A large offset does not cost the standard deviation its accuracy.
	st, _ = volume.Describe([]float32{1e6 + 1, 1e6 + 2, 1e6 + 3, 1e6 + 4}, nil)
	if math.Abs(st.Std-1.1180339887498949) > 1e-9 {
		t.Errorf("std with offset 1e6 = %.12g", st.Std)
	}
	v, _ := volume.New([3]int{2, 2, 2}, volume.Identity())
	copy(v.Data, []float32{0, 1, 2, 3, 4, 5, 6, 7})
	m, _ := volume.ThresholdMask(v, 4, 7)
	vs, err := v.Stats(m)
	if err != nil || vs.Mean != 5.5 || vs.N != 4 {
		t.Errorf("Volume.Stats = %+v, %v", vs, err)
	}
	vp, err := v.Percentiles(nil, 50)
	if err != nil || vp[0] != 3.5 {
		t.Errorf("Volume.Percentiles = %v, %v", vp, err)
	}
}

// Signed zeros, negatives, infinities and denormals are ranked by value.
func TestPercentilesSpecialValues(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	x := []float32{float32(math.Inf(1)), -3, negZero, 1e-40, 0, -1e-40, float32(math.Inf(-1)), 2.5, -1e30, 7}
	qs := []float64{0, 5, 10, 20, 33.3, 50, 66.6, 80, 95, 100}
	p, err := volume.Percentiles(x, nil, qs...)
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range qs {
		want := refPercentile(x, q)
		if p[i] != want && !(math.IsNaN(p[i]) && math.IsNaN(want)) {
			t.Errorf("q %g: %g, want %g", q, p[i], want)
		}
	}
}
