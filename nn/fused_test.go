package nn

import (
	"math"
	"testing"
)

func TestGradBatchNormAct(t *testing.T) {
	r := NewRNG(21)
	bn := func(g *Graph, in []*Tensor, f fuse) *Tensor {
		return g.batchNormAct(in[0], in[1], in[2], NewTensor(3), NewTensor(3), bnOptions{Training: true}, f)
	}
	shapes := [][]int{{2, 3, 4, 3, 2}, {3}, {3}, {2, 3, 4, 3, 2}}
	cases := []struct {
		name string
		f    func(g *Graph, in []*Tensor) *Tensor
	}{
		{"relu", func(g *Graph, in []*Tensor) *Tensor { return bn(g, in, fuse{ReLU: true}) }},
		{"residual", func(g *Graph, in []*Tensor) *Tensor { return bn(g, in, fuse{Residual: in[3]}) }},
		{"residual_relu", func(g *Graph, in []*Tensor) *Tensor { return bn(g, in, fuse{Residual: in[3], ReLU: true}) }},
		{"self_residual_relu", func(g *Graph, in []*Tensor) *Tensor { return bn(g, in, fuse{Residual: in[0], ReLU: true}) }},
		{"maxpool_residual_relu", func(g *Graph, in []*Tensor) *Tensor {
			return g.batchNormActPool(in[0], in[1], in[2], NewTensor(3), NewTensor(3), bnOptions{Training: true},
				fuse{Residual: in[3], ReLU: true}, PoolOptions{Kernel: Cube(2), Stride: Cube(1)}, false)
		}},
		{"avgpool_residual_relu", func(g *Graph, in []*Tensor) *Tensor {
			return g.batchNormActPool(in[0], in[1], in[2], NewTensor(3), NewTensor(3), bnOptions{Training: true},
				fuse{Residual: in[3], ReLU: true}, PoolOptions{Kernel: Cube(2)}, true)
		}},
		{"eval_residual_relu", func(g *Graph, in []*Tensor) *Tensor {
			rm, _ := FromData([]float32{0.1, -0.2, 0.3}, 3)
			rv, _ := FromData([]float32{0.5, 1.5, 2}, 3)
			return g.batchNormAct(in[0], in[1], in[2], rm, rv, bnOptions{}, fuse{Residual: in[3], ReLU: true})
		}},
	}
	for _, c := range cases {
		ins := make([]*Tensor, len(shapes))
		for i, s := range shapes {
			ins[i] = randT(r, s...)
		}
		if c.name == "relu" || c.name == "self_residual_relu" {
			ins[3].SetRequiresGrad(false) // not an input of these
		}
		gradCheck(t, c.name, ins, c.f)
	}
}

// bnActCase builds a small graph around one BatchNormAct (fused) or the
// BatchNorm, Add, ReLU composition it replaces, with intermediate and
// leaf inputs and, with branch, an input that also feeds another branch
// (accumulated gradients); shareX makes the residual the input itself.
// With pool, it is BatchNormActMaxPool against BatchNormAct + MaxPool3d.
func bnActCase(g *Graph, leaves []*Tensor, fused, relu, residual, shareX, branch bool, pool *PoolOptions) *Tensor {
	p, q, gm, bt := leaves[0], leaves[1], leaves[2], leaves[3]
	x := g.Scale(p, 1.5) // intermediate input
	var res *Tensor
	switch {
	case residual && shareX:
		res = x
	case residual:
		res = g.Scale(q, -0.5)
	}
	rm, rv := NewTensor(3), NewTensor(3)
	o := bnOptions{Training: true}
	var y *Tensor
	if pool != nil { // the stem variant, against BatchNormAct + MaxPool3d
		if fused {
			y = g.batchNormActPool(x, gm, bt, rm, rv, o, fuse{Residual: res, ReLU: relu}, *pool, false)
		} else {
			y = g.MaxPool3d(g.batchNormAct(x, gm, bt, rm, rv, o, fuse{Residual: res, ReLU: relu}), *pool)
		}
	} else if fused {
		y = g.batchNormAct(x, gm, bt, rm, rv, o, fuse{Residual: res, ReLU: relu})
	} else {
		y = g.batchNorm(x, gm, bt, rm, rv, o)
		if res != nil {
			y = g.Add(y, res)
		}
		if relu {
			y = g.ReLU(y)
		}
	}
	// Nonlinear, with a gradient where y = 0 (so a missing ReLU mask shows).
	y = g.Add(g.Mul(y, y), y)
	if branch { // x's gradient accumulates over two consumers
		y = g.Add(y, g.Mean(g.Mul(x, x)))
	}
	return y
}

// The fused operation is the composition, bit for bit, forward and
// backward, with and without an arena (which enables the in-place
// gradient hand-over), in every combination of residual, ReLU and a
// residual equal to the input.
func TestBatchNormActEqualsComposition(t *testing.T) {
	for _, relu := range []bool{false, true} {
		for _, residual := range []bool{false, true} {
			for _, shareX := range []bool{false, true} {
				if shareX && !residual {
					continue
				}
				for _, c := range bnActVariants {
					branch, pool := c.branch, c.pool
					var ref []float32
					for _, fused := range []bool{false, true} {
						for _, arena := range []bool{false, true} {
							got := runBnActCase(t, fused, relu, residual, shareX, branch, arena, pool)
							if ref == nil {
								ref = got
								continue
							}
							for i := range ref {
								if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
									t.Fatalf("relu=%v residual=%v shareX=%v branch=%v pool=%v fused=%v arena=%v: value %d = %v, composition without arena %v",
										relu, residual, shareX, branch, pool != nil, fused, arena, i, got[i], ref[i])
								}
							}
						}
					}
				}
			}
		}
	}
}

// bnActVariants: with or without a second consumer of the input, and the
// max-pool stem: ResNet's overlapping 3/2/1 windows (argmax cells repeat)
// and overlapping 2-cell windows (a quarter of them all negative, so the
// ReLU stops their gradient).
var bnActVariants = []struct {
	branch bool
	pool   *PoolOptions
}{
	{false, nil}, {true, nil},
	{false, &PoolOptions{Kernel: Cube(3), Stride: Cube(2), Padding: Cube(1)}},
	{true, &PoolOptions{Kernel: [3]int{1, 2, 1}, Stride: [3]int{1, 1, 1}}},
}

// runBnActCase returns the output followed by every leaf gradient, after
// two passes through the same graph (the second reuses arena buffers).
func runBnActCase(t *testing.T, fused, relu, residual, shareX, branch, arena bool, pool *PoolOptions) []float32 {
	r := NewRNG(8)
	leaves := []*Tensor{randT(r, 2, 3, 5, 4, 3), randT(r, 2, 3, 5, 4, 3), randT(r, 3), randT(r, 3)}
	opts := Options{Grad: true}
	if arena {
		opts.Arena = NewArena()
	}
	g := NewGraph(opts)
	var out []float32
	for range 2 {
		g.Reset()
		for _, l := range leaves {
			l.ZeroGrad()
		}
		y := bnActCase(g, leaves, fused, relu, residual, shareX, branch, pool)
		seed := make([]float32, len(y.Data))
		for i := range seed {
			seed[i] = float32(math.Sin(float64(i)))
		}
		if g.Err() != nil {
			t.Fatal(g.Err())
		}
		out = append(out[:0], y.Data...)
		if err := g.BackwardWith(y, seed); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range leaves {
		if l.Grad() == nil {
			continue // q feeds nothing without a separate residual
		}
		out = append(out, l.Grad().Data...)
	}
	return out
}

func TestBatchNormActErrors(t *testing.T) {
	g := NewGraph(Options{})
	x, res := NewTensor(2, 3, 4), NewTensor(2, 3, 5)
	g.batchNormAct(x, nil, nil, nil, nil, bnOptions{Training: true}, fuse{Residual: res})
	if g.Err() == nil {
		t.Fatal("a residual of another shape was accepted")
	}
}
