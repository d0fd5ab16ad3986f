package ops_test

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/ops"
)

// Softmax of each row, then GELU of a few values.
func Example() {
	logits := []float32{1, 2, 3, 0, 0, 0}
	probs := make([]float32, 6)
	if err := ops.Softmax(probs, logits, 3); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.4f\n", probs)
	x := []float32{-3, 0, 1}
	ops.GELU(x, x)
	fmt.Printf("%.5f\n", x)
	// Output:
	// [0.0900 0.2447 0.6652 0.3333 0.3333 0.3333]
	// [-0.00405 0.00000 0.84134]
}
