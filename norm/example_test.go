package norm_test

import (
	"fmt"

	"github.com/metasurv/metasurv/norm"
	"github.com/metasurv/metasurv/volume"
)

// Z-scoring over the nonzero (brain) voxels leaves the background at zero.
func ExampleZScore() {
	v, _ := volume.FromData([3]int{5, 1, 1}, volume.Identity(), []float32{0, 2, 4, 6, 0})
	out, err := norm.Apply(v, norm.ZScore{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.3f\n", out.Data)
	// Output: [0.000 -1.225 0.000 1.225 0.000]
}
