package attention_test

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/attention"
)

// One head, two tokens: each query attends mostly to the key it matches.
func Example() {
	pl, err := attention.NewPlan(attention.Config{B: 1, Heads: 1, T: 2, D: 2, Scale: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	q := []float32{1, 0, 0, 1}
	k := []float32{1, 0, 0, 1}
	v := []float32{10, 0, 0, 10}
	out := make([]float32, 4)
	if err := pl.Forward(out, q, k, v); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.3f\n", out)
	// Output: [9.820 0.180 0.180 9.820]
}
