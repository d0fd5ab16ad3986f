package optim_test

import (
	"fmt"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/nn/optim"
)

// Fit y = 2x with one weight by SGD.
func Example() {
	w := nn.NewTensor(1).SetRequiresGrad(true)
	x, _ := nn.FromData([]float32{1, 2, 3}, 3)
	y, _ := nn.FromData([]float32{2, 4, 6}, 3)
	opt, _ := optim.NewSGD([]*nn.Tensor{w}, optim.SGDOptions{LR: 0.05, Momentum: 0.5})
	for range 50 {
		opt.ZeroGrad()
		g := nn.NewGraph(nn.Options{Grad: true})
		loss := g.MSE(g.Mul(x, w), y, nn.ReduceMean)
		_ = g.Backward(loss)
		_ = opt.Step()
	}
	fmt.Printf("w = %.3f\n", w.Data[0])
	// Output: w = 2.000
}
