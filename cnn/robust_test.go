package cnn_test

import (
	"errors"
	"testing"

	"github.com/metasurv/metasurv/cnn"
	"github.com/metasurv/metasurv/nn"
)

// A tensor assembled by hand whose Data is shorter than its Shape is an
// ErrInput of every family and entry point; EfficientNet's padding and
// every family's global pool indexed past the end of the data.
func TestShortDataIsAnError(t *testing.T) {
	type mapper interface {
		EmbedFromMaps(g *nn.Graph, maps *nn.Tensor) *nn.Tensor
		EmbedDim() int
	}
	for name, m := range smallModels(t) {
		mm := m.(mapper)
		for op, f := range map[string]func(g *nn.Graph){
			"Forward": func(g *nn.Graph) { m.Forward(g, &nn.Tensor{Shape: []int{1, 2, 16, 16, 16}, Data: make([]float32, 7)}) },
			"Embed":   func(g *nn.Graph) { m.Embed(g, &nn.Tensor{Shape: []int{1, 2, 16, 16, 16}, Data: make([]float32, 7)}) },
			"EmbedFromMaps": func(g *nn.Graph) {
				mm.EmbedFromMaps(g, &nn.Tensor{Shape: []int{1, mm.EmbedDim(), 2, 2, 2}, Data: make([]float32, 3)})
			},
		} {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s.%s panics: %v", name, op, r)
					}
				}()
				g := nn.NewGraph(nn.Options{})
				f(g)
				if !errors.Is(g.Err(), cnn.ErrInput) {
					t.Errorf("%s.%s: %v, want ErrInput", name, op, g.Err())
				}
			}()
		}
	}
}
