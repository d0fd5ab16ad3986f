package parallel_test

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/parallel"
)

// Scale a vector on all cores; each worker gets one contiguous range.
func ExampleFor() {
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	parallel.For(len(x), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x[i] *= 2
		}
	})
	fmt.Println(x)
	// Output: [2 4 6 8 10 12 14 16 18]
}
