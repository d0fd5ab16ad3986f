package nn

import (
	"errors"
	"testing"
)

// Tensor's Shape and Data are exported, so a tensor assembled by hand can
// hold fewer values than its shape says. Most operations indexed past its
// data (a slice panic); they report ErrShape on the graph instead.
func TestShortDataIsAShapeError(t *testing.T) {
	short5 := func() *Tensor { return &Tensor{Shape: []int{2, 3, 4, 4, 4}, Data: make([]float32, 5)} }
	short := func() *Tensor { return &Tensor{Shape: []int{2, 8}, Data: make([]float32, 5)} }
	good := func() *Tensor { return NewTensor(2, 8) }
	for name, f := range map[string]func(g *Graph){
		"Add":            func(g *Graph) { g.Add(short(), good()) },
		"Mul":            func(g *Graph) { g.Mul(good(), short()) },
		"GELU":           func(g *Graph) { g.GELU(short()) },
		"Softmax":        func(g *Graph) { g.Softmax(short(), 1) },
		"LogSoftmax":     func(g *Graph) { g.LogSoftmax(short(), 1) },
		"Linear weight":  func(g *Graph) { g.Linear(good(), &Tensor{Shape: []int{5, 8}, Data: make([]float32, 3)}, nil) },
		"Mean":           func(g *Graph) { g.Mean(short(), 1) },
		"Sum":            func(g *Graph) { g.Sum(short(), 1) },
		"Transpose":      func(g *Graph) { g.Transpose(short(), 0, 1) },
		"Permute":        func(g *Graph) { g.Permute(short5(), 0, 2, 1, 3, 4) },
		"Concat":         func(g *Graph) { g.Concat(1, short(), good()) },
		"Narrow":         func(g *Graph) { g.Narrow(short(), 1, 2, 4) },
		"Pad":            func(g *Graph) { g.Pad(short(), [][2]int{{0, 0}, {1, 1}}, 0) },
		"Dropout":        func(g *Graph) { g.Dropout(short(), 0.5) },
		"CrossEntropy":   func(g *Graph) { g.CrossEntropy(short(), []int{0, 1}, CEOptions{}) },
		"MSE":            func(g *Graph) { g.MSE(short(), good(), 0) },
		"AvgPool3d":      func(g *Graph) { g.AvgPool3d(short5(), PoolOptions{Kernel: [3]int{2, 2, 2}}) },
		"AdaptiveAvg":    func(g *Graph) { g.AdaptiveAvgPool3d(short5(), [3]int{1, 1, 1}) },
		"Conv3d":         func(g *Graph) { g.Conv3d(short5(), NewTensor(4, 3, 3, 3, 3), nil, ConvOptions{}) },
		"BatchNorm3d":    func(g *Graph) { NewBatchNorm3d(3).Forward(g, short5()) },
		"negative shape": func(g *Graph) { g.ReLU(&Tensor{Shape: []int{-2, 8}, Data: make([]float32, 16)}) },
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s panics: %v", name, r)
				}
			}()
			g := NewGraph(Options{})
			f(g)
			if !errors.Is(g.Err(), ErrShape) {
				t.Errorf("%s: %v, want ErrShape", name, g.Err())
			}
		}()
	}
}
