package npy_test

import (
	"bytes"
	"fmt"

	"github.com/metasurv/metasurv/internal/npy"
)

// Write a 2×3 float32 array and read it back.
func Example() {
	var buf bytes.Buffer
	if err := npy.Write(&buf, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}); err != nil {
		fmt.Println(err)
		return
	}
	a, err := npy.Read(&buf)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, _ := a.Float32()
	fmt.Println(a.Shape, a.DType, a.Fortran, v)
	// Output: [2 3] <f4 false [1 2 3 4 5 6]
}
