package nnloss

import (
	"testing"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/survival"
)

// TestMalformedTensorsReturnErrors checks that nil tensors and tensors
// whose data does not fill their shape are errors, not panics.
func TestMalformedTensorsReturnErrors(t *testing.T) {
	y := []survival.Outcome{{Time: 1, Event: true}, {Time: 2, Event: false}}
	short := &nn.Tensor{Shape: []int{2, 3}, Data: make([]float32, 2)}
	negative := &nn.Tensor{Shape: []int{-2, -1}, Data: make([]float32, 2)}
	ok := &nn.Tensor{Shape: []int{2, 1}, Data: []float32{0.1, 0.2}}
	idx, ev := []int{0, 1}, []bool{true, false}
	for _, bad := range []*nn.Tensor{nil, short, negative} {
		for name, fn := range map[string]func(g *nn.Graph) (*nn.Tensor, error){
			"Cox":             func(g *nn.Graph) (*nn.Tensor, error) { return Cox(g, bad, y, survival.Efron) },
			"PMF":             func(g *nn.Graph) (*nn.Tensor, error) { return PMF(g, bad, idx, ev) },
			"LogisticHazard":  func(g *nn.Graph) (*nn.Tensor, error) { return LogisticHazard(g, bad, idx, ev) },
			"DeepHit":         func(g *nn.Graph) (*nn.Tensor, error) { return DeepHit(g, bad, idx, ev, survival.DeepHitOptions{}) },
			"Coral":           func(g *nn.Graph) (*nn.Tensor, error) { return Coral(g, bad, []int{0, 1}, nil) },
			"CumulativeLink":  func(g *nn.Graph) (*nn.Tensor, error) { return CumulativeLink(g, bad, ok, []int{0, 1}, nil) },
			"CumulativeLinkθ": func(g *nn.Graph) (*nn.Tensor, error) { return CumulativeLink(g, ok, bad, []int{0, 1}, nil) },
		} {
			t.Run(name, func(t *testing.T) {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				if _, err := fn(nn.NewGraph(nn.Options{Grad: true})); err == nil {
					t.Fatalf("tensor %v: no error", bad)
				}
			})
		}
	}
}
