package gemm_test

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/gemm"
)

// A dense layer y = relu(x·Wᵀ + b) for two inputs of three features and two
// outputs, with bias and activation fused into the multiply.
func ExampleSgemmEx() {
	x := []float32{ // 2×3
		1, 2, 3,
		4, 5, 6,
	}
	w := []float32{ // 2×3 (out × in), used transposed
		1, 0, -1,
		0.5, 0.5, 0.5,
	}
	y := make([]float32, 2*2)
	ep := &gemm.Epilogue{Bias: []float32{0, -5}, Act: gemm.ReLU}
	gemm.SgemmEx(false, true, 2, 2, 3, 1, x, 3, w, 3, 0, y, 2, ep)
	fmt.Println(y)
	// Output: [0 0 0 2.5]
}

// Weights packed once serve many inputs: C = W·X with W 2×2.
func ExamplePackA() {
	w := gemm.PackA(false, 2, 2, 1, []float32{1, 2, 3, 4}, 2)
	for _, x := range [][]float32{{1, 0, 0, 1}, {1, 1, 1, 1}} {
		c := make([]float32, 4)
		gemm.SgemmPackedA(w, false, 2, x, 2, 0, c, 2, nil)
		fmt.Println(c)
	}
	// Output:
	// [1 2 3 4]
	// [3 3 7 7]
}
