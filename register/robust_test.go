package register

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// A Transform with an unknown kind or the wrong number of parameters made
// Matrix, Apply, Derivatives and SetCenter index out of range.
func TestMalformedTransformDoesNotPanic(t *testing.T) {
	for _, tr := range []Transform{{Kind: KindRigid, Params: []float64{1}}, {Kind: Kind(99)}, {Kind: KindAffine, Params: make([]float64, 3)}, {}} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%v panics: %v", tr, r)
				}
			}()
			if m := tr.Matrix(); !math.IsNaN(m[0][0]) || m.IsFinite() {
				t.Errorf("%v: Matrix %v, want NaN", tr, m)
			}
			if p := tr.Apply([3]float64{1, 2, 3}); !math.IsNaN(p[0]) {
				t.Errorf("%v: Apply %v, want NaN", tr, p)
			}
			if d := tr.Derivatives(); d != nil {
				t.Errorf("%v: Derivatives %v, want nil", tr, d)
			}
			tr.SetCenter([3]float64{1, 1, 1})
		}()
	}
}

// Inputs that were taken silently: a singular output grid or transform (a
// constant image), a NaN matrix written to a .mat file, an elastix grid of
// negative dims and singular directions, a NaN centre (NaN parameters), a
// relaxation outside (0, 1) (replaced by 0.5) and MinStep > MaxStep (no
// step taken, the initial transform returned as the result).
func TestRobustRegisterInputs(t *testing.T) {
	good, _ := volume.New([3]int{12, 12, 12}, volume.Identity())
	for i := range good.Data {
		good.Data[i] = float32(i%7) + float32(i%5)
	}
	sing := volume.Affine{}
	sing[3][3] = 1
	nanM := volume.Identity()
	nanM[1][1] = math.NaN()
	for name, f := range map[string]func() error{
		"Resample singular grid": func() error {
			_, err := Resample(good, Grid{Dims: [3]int{3, 3, 3}, Affine: sing}, volume.Identity(), volume.Linear, 0)
			return err
		},
		"Resample singular transform": func() error {
			_, err := Resample(good, GridOf(good), sing, volume.Linear, 0)
			return err
		},
		"WriteMat NaN": func() error { return WriteMat(&bytes.Buffer{}, nanM) },
		"WriteElastix bad grid": func() error {
			return WriteElastix(&bytes.Buffer{}, Identity(KindRigid, [3]float64{}), Grid{Dims: [3]int{-1, 0, 0}, Affine: sing})
		},
		"RigidFromMatrix NaN centre": func() error {
			_, err := RigidFromMatrix(volume.Identity(), [3]float64{math.NaN(), 0, 0}, RigidOptions{})
			return err
		},
		"Register relaxation 2": func() error {
			_, err := Register(context.Background(), good, good, Options{Relaxation: 2, MaxIterations: 2})
			return err
		},
		"Register negative relaxation": func() error {
			_, err := Register(context.Background(), good, good, Options{Relaxation: -0.5, MaxIterations: 2})
			return err
		},
		"Register MinStep over MaxStep": func() error {
			_, err := Register(context.Background(), good, good, Options{MaxStep: 0.001, MinStep: 1, MaxIterations: 2})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			if err := f(); !errors.Is(err, ErrInput) {
				t.Fatalf("%v, want ErrInput", err)
			}
		})
	}
}
