package volume_test

import (
	"math"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// TestHostileInputsReturnErrors feeds every exported entry point that
// returns an error malformed volumes, masks and stacks, and checks that
// each returns an error instead of panicking.
func TestHostileInputsReturnErrors(t *testing.T) {
	good, err := volume.New([3]int{4, 5, 6}, volume.Identity())
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]*volume.Volume{
		"nil":   nil,
		"short": {Dims: [3]int{4, 5, 6}, Affine: volume.Identity(), Data: make([]float32, 3)},
		"zero":  {Dims: [3]int{0, 5, 6}, Affine: volume.Identity()},
		"neg":   {Dims: [3]int{-4, -5, 6}, Affine: volume.Identity(), Data: make([]float32, 120)},
	}
	var nilMask *volume.Mask
	shortMask := &volume.Mask{Dims: good.Dims, Data: make([]bool, 2)}
	for name, v := range bad {
		calls := map[string]func() error{
			"Extract":       func() error { _, e := v.Extract([3]int{-1, 0, 0}, [3]int{2, 2, 2}, 0); return e },
			"CropOrPad":     func() error { _, e := v.CropOrPad([3]int{2, 9, 3}, 0); return e },
			"CropToBox":     func() error { _, e := v.CropToBox([3]int{}, [3]int{2, 2, 2}, 0); return e },
			"CropToMask":    func() error { _, e := v.CropToMask(shortMask, 0); return e },
			"ApplyMask":     func() error { _, e := v.ApplyMask(shortMask, 0); return e },
			"NonzeroMask":   func() error { _, e := volume.NonzeroMask(v); return e },
			"ThresholdMask": func() error { _, e := volume.ThresholdMask(v, 0, 1); return e },
			"Reorient":      func() error { _, e := v.Reorient(volume.Codes{'L', 'P', 'S'}); return e },
			"Canonical":     func() error { _, e := v.Canonical(); return e },
			"ApplyOrnt": func() error {
				o, _ := volume.Codes{'L', 'P', 'S'}.Ornt()
				_, e := v.ApplyOrnt(o)
				return e
			},
			"Resize": func() error { _, e := v.Resize([3]int{3, 3, 3}, volume.ResizeTrilinear); return e },
			"ResizeInto": func() error {
				return volume.ResizeInto(good.Clone(), v, volume.ResizeArea)
			},
			"ResampleToSpacing": func() error {
				_, e := v.ResampleToSpacing([3]float64{2, 2, 2}, volume.SpacingOptions{})
				return e
			},
			"Resample": func() error {
				_, e := volume.Resample(v, [3]int{3, 3, 3}, volume.Identity(), volume.Identity(), volume.Sampler{})
				return e
			},
			"ResampleIntoDst": func() error { return volume.ResampleInto(v, good, volume.Identity(), volume.Sampler{}) },
			"ResampleIntoSrc": func() error {
				return volume.ResampleInto(good.Clone(), v, volume.Identity(), volume.Sampler{})
			},
			"Stats":       func() error { _, e := v.Stats(nil); return e },
			"Percentiles": func() error { _, e := v.Percentiles(nil, 50); return e },
			"NewStack": func() error {
				_, e := volume.NewStack([]string{"a", "b"}, []*volume.Volume{good, v})
				return e
			},
		}
		if name == "nil" { // a nil channel is a missing one, which is valid
			delete(calls, "NewStack")
		}
		for cn, fn := range calls {
			t.Run(name+"/"+cn, func(t *testing.T) { wantError(t, fn) })
		}
	}
	for cn, fn := range map[string]func() error{
		"ApplyMask/nil":   func() error { _, e := good.ApplyMask(nilMask, 0); return e },
		"CropToMask/nil":  func() error { _, e := good.CropToMask(nilMask, 0); return e },
		"Stats/shortMask": func() error { _, e := good.Stats(shortMask); return e },
		"Stack/short": func() error {
			_, e := (&volume.Stack{Dims: good.Dims, Names: []string{"a"}, Present: []bool{true}, Data: make([]float32, 3)}).Channel(0)
			return e
		},
		"Stack/noPresence": func() error {
			_, e := (&volume.Stack{Dims: good.Dims, Names: []string{"a"}, Data: good.Data}).Resize([3]int{2, 2, 2}, volume.ResizeArea)
			return e
		},
		"Stack/nil": func() error { _, e := (*volume.Stack)(nil).Resize([3]int{2, 2, 2}, volume.ResizeArea); return e },
		"Spacing/NaN": func() error {
			_, e := good.ResampleToSpacing([3]float64{math.NaN(), 1, 1}, volume.SpacingOptions{})
			return e
		},
		"Spacing/tiny": func() error {
			_, e := good.ResampleToSpacing([3]float64{1e-12, 1e-12, 1e-12}, volume.SpacingOptions{})
			return e
		},
		"Resample/singular": func() error {
			s := good.Clone()
			s.Affine[0][0] = 0
			_, e := volume.Resample(s, [3]int{2, 2, 2}, volume.Identity(), volume.Identity(), volume.Sampler{})
			return e
		},
		"Resample/NaNworld": func() error {
			w := volume.Identity()
			w[1][3] = math.Inf(1)
			_, e := volume.Resample(good, [3]int{2, 2, 2}, volume.Identity(), w, volume.Sampler{})
			return e
		},
		"ResampleInto/aliased": func() error {
			v := good.Clone()
			return volume.ResampleInto(v, v, volume.Identity(), volume.Sampler{})
		},
		"ResizeInto/aliased": func() error { v := good.Clone(); return volume.ResizeInto(v, v, volume.ResizeArea) },
		"Percentiles/mismatch": func() error {
			_, e := volume.Percentiles([]float32{1, 2}, &volume.Mask{Dims: [3]int{1, 1, 1}, Data: []bool{true}}, 50)
			return e
		},
		"Percentiles/empty": func() error { _, e := volume.Percentiles(nil, nil, 50); return e },
		"Percentiles/q>100": func() error { _, e := volume.Percentiles([]float32{1, 2}, nil, 101); return e },
		"Percentiles/qNaN":  func() error { _, e := volume.Percentiles([]float32{1, 2}, nil, math.NaN()); return e },
		"Describe/mismatch": func() error {
			_, e := volume.Describe([]float32{1, 2}, &volume.Mask{Dims: [3]int{1, 1, 1}, Data: []bool{true}})
			return e
		},
	} {
		t.Run(cn, func(t *testing.T) { wantError(t, fn) })
	}
	if c := (*volume.Volume)(nil).Clone(); c != nil {
		t.Errorf("nil.Clone() = %v, want nil", c)
	}
}

func wantError(t *testing.T, fn func() error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panic: %v", r)
		}
	}()
	if err := fn(); err == nil {
		t.Fatal("no error")
	}
}
