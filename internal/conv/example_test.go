package conv_test

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/conv"
	"github.com/metasurv/metasurv/internal/gemm"
)

// A 3×3×3 convolution with padding 1 and a fused bias + ReLU: with all-one
// weights every output is the number of input cells under the kernel,
// 27 inside and fewer at the borders, plus the bias.
func Example() {
	p := conv.Params{N: 1, InC: 1, OutC: 1, In: [3]int{3, 3, 3}, Kernel: [3]int{3, 3, 3}, Pad: [3]int{1, 1, 1}}
	pl, err := conv.NewPlan(p)
	if err != nil {
		fmt.Println(err)
		return
	}
	w := make([]float32, p.WeightLen())
	for i := range w {
		w[i] = 1
	}
	if err := pl.SetWeights(w); err != nil {
		fmt.Println(err)
		return
	}
	x := make([]float32, p.InLen())
	for i := range x {
		x[i] = 1
	}
	y := make([]float32, p.OutLen())
	if err := pl.Forward(y, x, &conv.Epilogue{Bias: []float32{-10}, Act: gemm.ReLU}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Out(), y[0], y[13])
	// Output: [3 3 3] 0 17
}
