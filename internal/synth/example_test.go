package synth_test

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/synth"
)

// A 2 mm phantom T1 in LPS orientation, as ITK tools would store it.
func Example() {
	dims, affine, err := synth.Grid([3]float64{180, 216, 180}, [3]float64{2, 2, 2}, "LPS")
	if err != nil {
		panic(err)
	}
	t1, err := synth.Head(synth.T1, dims, affine, synth.HeadOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(t1.Dims, t1.AxCodes())
	// Output: [90 108 90] LPS
}
