package norm

import (
	"context"
	"errors"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// TestNilAndInconsistentInputs is the regression test of issue 12: nil
// images and data shorter than the dims gave panics; every public entry
// point must answer with an error wrapping ErrInput (or ErrMask).
func TestNilAndInconsistentInputs(t *testing.T) {
	short := &volume.Volume{Dims: [3]int{8, 8, 8}, Affine: volume.Identity(), Data: make([]float32, 100)}
	good, _ := volume.New([3]int{8, 8, 8}, volume.Identity())
	for i := range good.Data {
		good.Data[i] = float32(i%7 + 1)
	}
	badMask := &volume.Mask{Dims: [3]int{8, 8, 8}, Data: make([]bool, 3)}
	ctx := context.Background()
	cases := map[string]func() error{
		"N4(nil)":         func() error { _, err := N4(ctx, nil, N4Options{}); return err },
		"N4(short data)":  func() error { _, err := N4(ctx, short, N4Options{}); return err },
		"N4(short mask)":  func() error { _, err := N4(ctx, good, N4Options{Mask: badMask}); return err },
		"Apply(nil)":      func() error { _, err := Apply(nil, ZScore{}); return err },
		"Apply(short)":    func() error { _, err := Apply(short, ZScore{}); return err },
		"Apply(nil norm)": func() error { _, err := Apply(good, nil); return err },
		"ApplyStack(nil)": func() error { return ApplyStack(nil, ZScore{}) },
		"ApplyStack(short)": func() error {
			return ApplyStack(&volume.Stack{Names: []string{"T1"}, Dims: [3]int{8, 8, 8}, Data: make([]float32, 5)}, ZScore{})
		},
		"OtsuMask(nil)":   func() error { _, err := OtsuMask(nil); return err },
		"OtsuMask(short)": func() error { _, err := OtsuMask(short); return err },
		"Preprocess(short T1c)": func() error {
			_, _, err := Preprocess(ctx, Sequences{T1c: short}, good, Options{Missing: MissingZeroFill})
			return err
		},
		"Preprocess(nil atlas)": func() error { _, _, err := Preprocess(ctx, Sequences{T1c: good}, nil, Options{}); return err },
		"PropagateMask(nil)":    func() error { _, err := PropagateMask(nil, volume.Identity(), good, volume.Identity()); return err },
		"PropagateMask(nilv)": func() error {
			_, err := PropagateMask(&volume.Mask{Dims: good.Dims, Data: make([]bool, 512)}, volume.Identity(), nil, volume.Identity())
			return err
		},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				err = f()
			}()
			if !errors.Is(err, ErrInput) && !errors.Is(err, ErrMask) {
				t.Fatalf("error %v, want ErrInput or ErrMask", err)
			}
		})
	}
}
