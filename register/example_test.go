package register_test

import (
	"context"
	"fmt"
	"math"

	"github.com/metasurv/metasurv/register"
	"github.com/metasurv/metasurv/volume"
)

// blob returns a 48³ image (2 mm voxels) of three Gaussian blobs.
func blob() *volume.Volume {
	a := volume.Identity()
	for i := 0; i < 3; i++ {
		a[i][i], a[i][3] = 2, -47
	}
	v, _ := volume.New([3]int{48, 48, 48}, a)
	centres := [][4]float64{{-10, 5, 0, 100}, {12, -8, 6, 60}, {0, 14, -12, 80}}
	for k := 0; k < 48; k++ {
		for j := 0; j < 48; j++ {
			for i := 0; i < 48; i++ {
				p := a.Apply([3]float64{float64(i), float64(j), float64(k)})
				var s float64
				for _, c := range centres {
					d := (p[0]-c[0])*(p[0]-c[0]) + (p[1]-c[1])*(p[1]-c[1]) + (p[2]-c[2])*(p[2]-c[2])
					s += c[3] * math.Exp(-d/(2*8*8))
				}
				v.Set(i, j, k, float32(s))
			}
		}
	}
	return v
}

// Example moves a synthetic image by a known rigid transform, registers it
// back and prints the recovered transform's parameters.
func Example() {
	fixed := blob()
	truth := register.NewRigid([3]float64{0.1, -0.05, 0.08}, [3]float64{3, -2, 4}, [3]float64{0, 0, 0})
	// moving(y) = fixed(G·y) with G the inverse of truth, so that
	// moving(truth·x) = fixed(x).
	g, _ := truth.Matrix().Inverse()
	moving, _ := register.Resample(fixed, register.GridOf(fixed), g, volume.BSpline3, 0)

	res, err := register.Register(context.Background(), fixed, moving, register.Options{
		Metric:   register.NCC,
		Sampling: register.Sampling{All: true},
		Shrink:   []int{2, 1},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	t, _ := register.RigidFromMatrix(res.Matrix, [3]float64{0, 0, 0}, register.RigidOptions{})
	fmt.Printf("angles %.2f %.2f %.2f rad\n", t.Params[0], t.Params[1], t.Params[2])
	fmt.Printf("shift  %.1f %.1f %.1f mm\n", t.Params[3], t.Params[4], t.Params[5])
	// Output:
	// angles 0.10 -0.05 0.08 rad
	// shift  3.0 -2.0 4.0 mm
}
