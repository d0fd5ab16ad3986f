package nn_test

import (
	"fmt"

	"github.com/metasurv/metasurv/nn"
)

// Differentiate y = Σ w·x with respect to w.
func Example() {
	w, _ := nn.FromData([]float32{1, 2, 3}, 3)
	w.SetRequiresGrad(true)
	x, _ := nn.FromData([]float32{4, 5, 6}, 3)
	g := nn.NewGraph(nn.Options{Grad: true})
	y := g.Sum(g.Mul(w, x))
	if err := g.Backward(y); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Item(), w.Grad().Data)
	// Output: 32 [4 5 6]
}

// A classifier forward pass in inference mode, and the names of its state.
func Example_module() {
	r := nn.NewRNG(1)
	m := nn.NewSequential(nn.NewLinear(4, 8, nn.LinearOptions{}, r), nn.ReLU, nn.NewLinear(8, 3, nn.LinearOptions{}, r))
	x := nn.NewTensor(2, 4)
	g := nn.NewGraph(nn.Options{})
	y := m.Forward(g, x)
	fmt.Println(y.Shape, g.Err())
	for _, p := range nn.NamedParameters(m) {
		fmt.Println(p.Name, p.Tensor.Shape)
	}
	// Output:
	// [2 3] <nil>
	// 0.weight [8 4]
	// 0.bias [8]
	// 2.weight [3 8]
	// 2.bias [3]
}

// Keep a model's weights in bfloat16 only for inference: half the memory,
// and with Options.BF16 half the bytes read per pass. Every pass then uses
// the rounded weights (0.1 becomes 0.100097656).
func ExampleConvertBF16() {
	lin := nn.NewLinear(2, 1, nn.LinearOptions{NoBias: true}, nn.NewRNG(1))
	_ = lin.Weight.CopyFrom([]float32{0.1, 1})
	if err := nn.ConvertBF16(lin); err != nil {
		fmt.Println(err)
		return
	}
	x, _ := nn.FromData([]float32{1, 0}, 1, 2)
	g := nn.NewGraph(nn.Options{BF16: nn.HaveBF16()})
	y := lin.Forward(g, x)
	fmt.Println(lin.Weight.IsBF16(), lin.Weight.Data == nil, y.Data[0], nn.StateDict(lin)["weight"].Data)

	// training a converted model is refused
	gt := nn.NewGraph(nn.Options{Grad: true})
	lin.Forward(gt, x)
	fmt.Println(gt.Err() != nil)
	// Output:
	// true true 0.100097656 [0.100097656 1]
	// true
}
