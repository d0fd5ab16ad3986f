package nnloss_test

import (
	"fmt"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/survival"
	"github.com/metasurv/metasurv/survival/nnloss"
)

func ExampleCox() {
	y := []survival.Outcome{{Time: 2, Event: true}, {Time: 5, Event: false}, {Time: 7, Event: true}}
	eta, err := nn.FromData([]float32{0.5, -0.2, 0.1}, 3, 1)
	if err != nil {
		panic(err)
	}
	eta.SetRequiresGrad(true)
	g := nn.NewGraph(nn.Options{Grad: true})
	loss, err := nnloss.Cox(g, eta, y, survival.Efron)
	if err != nil {
		panic(err)
	}
	if err := g.Backward(loss); err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f, d loss/d eta %.4f\n", loss.Item(), eta.Grad().Data)
	// Output: loss 0.3867, d loss/d eta [-0.2693 0.1146 0.1547]
}
