package nn

import (
	"fmt"
	"math"
	"testing"
)

// randT returns a tensor of uniform values in [-1, 1) that requires grad.
func randT(r *RNG, shape ...int) *Tensor {
	t := NewTensor(shape...)
	InitUniform(t, -1, 1, r)
	return t.SetRequiresGrad(true)
}

// gradCheck compares the analytic gradient of sum(f(ins)·w) (w random,
// fixed) with central finite differences accumulated in float64. Up to
// maxPts elements per input are probed.
func gradCheck(t *testing.T, name string, ins []*Tensor, f func(g *Graph, in []*Tensor) *Tensor) {
	t.Helper()
	const eps, atol, rtol, maxPts = 1e-2, 2e-3, 2e-2, 24
	r := NewRNG(99)
	g := NewGraph(Options{Grad: true, RNG: NewRNG(5)})
	out := f(g, ins)
	if err := g.Err(); err != nil {
		t.Fatalf("%s: forward: %v", name, err)
	}
	w := make([]float32, len(out.Data))
	for i := range w {
		w[i] = float32(r.Uniform(-1, 1))
	}
	for _, x := range ins {
		x.ZeroGrad()
	}
	if err := g.BackwardWith(out, w); err != nil {
		t.Fatalf("%s: backward: %v", name, err)
	}
	eval := func() float64 {
		g := NewGraph(Options{RNG: NewRNG(5)})
		o := f(g, ins)
		var s float64
		for i, v := range o.Data {
			s += float64(v) * float64(w[i])
		}
		return s
	}
	for k, x := range ins {
		if !x.RequiresGrad() {
			continue
		}
		gr := x.Grad()
		if gr == nil {
			t.Fatalf("%s: input %d got no gradient", name, k)
		}
		step := max(1, len(x.Data)/maxPts)
		for i := r.IntN(step); i < len(x.Data); i += step {
			num := central(x, i, eps, eval)
			if half := central(x, i, eps/2, eval); math.Abs(num-half) > atol+rtol*math.Abs(num) {
				continue // a kink (ReLU, max) lies within eps: differences are meaningless here
			}
			ana := float64(gr.Data[i])
			if math.Abs(num-ana) > atol+rtol*math.Max(math.Abs(num), math.Abs(ana)) {
				t.Errorf("%s: input %d elem %d: analytic %.6g numeric %.6g", name, k, i, ana, num)
			}
		}
	}
}

// central returns the central difference of eval in element i of x.
func central(x *Tensor, i int, eps float32, eval func() float64) float64 {
	old := x.Data[i]
	x.Data[i] = old + eps
	x.bump()
	fp := eval()
	x.Data[i] = old - eps
	x.bump()
	fm := eval()
	x.Data[i] = old
	x.bump()
	return (fp - fm) / float64(2*eps)
}

func TestGradElementwise(t *testing.T) {
	r := NewRNG(1)
	cases := []struct {
		name string
		in   [][]int
		f    func(g *Graph, in []*Tensor) *Tensor
	}{
		{"add", [][]int{{2, 3, 4}, {2, 3, 4}}, func(g *Graph, in []*Tensor) *Tensor { return g.Add(in[0], in[1]) }},
		{"add_bcast", [][]int{{2, 3, 4}, {1, 3, 1}}, func(g *Graph, in []*Tensor) *Tensor { return g.Add(in[0], in[1]) }},
		{"sub_bcast", [][]int{{4}, {2, 3, 4}}, func(g *Graph, in []*Tensor) *Tensor { return g.Sub(in[0], in[1]) }},
		{"mul_bcast", [][]int{{2, 3, 4}, {3, 1}}, func(g *Graph, in []*Tensor) *Tensor { return g.Mul(in[0], in[1]) }},
		{"mul_se_scale", [][]int{{2, 3, 4, 5}, {2, 3, 1, 1}}, func(g *Graph, in []*Tensor) *Tensor { return g.Mul(in[0], in[1]) }},
		{"sub_scalar_left", [][]int{{1}, {2, 3}}, func(g *Graph, in []*Tensor) *Tensor { return g.Sub(in[0], in[1]) }},
		{"div_scalar_left", [][]int{{1, 1}, {2, 3}}, func(g *Graph, in []*Tensor) *Tensor {
			return g.Div(in[0], g.AddScalar(g.Square(in[1]), 0.5))
		}},
		{"div_scalar_right", [][]int{{2, 3}, {1}}, func(g *Graph, in []*Tensor) *Tensor {
			return g.Div(in[0], g.AddScalar(g.Square(in[1]), 0.5))
		}},
		{"div", [][]int{{2, 5}, {2, 5}}, func(g *Graph, in []*Tensor) *Tensor {
			return g.Div(in[0], g.AddScalar(g.Square(in[1]), 0.5))
		}},
		{"scale", [][]int{{7}}, func(g *Graph, in []*Tensor) *Tensor { return g.Scale(g.AddScalar(in[0], 2), -3) }},
		{"relu", [][]int{{3, 17}}, func(g *Graph, in []*Tensor) *Tensor { return g.ReLU(in[0]) }},
		{"leaky", [][]int{{3, 17}}, func(g *Graph, in []*Tensor) *Tensor { return g.LeakyReLU(in[0], 0.1) }},
		{"prelu", [][]int{{2, 3, 5}, {3}}, func(g *Graph, in []*Tensor) *Tensor { return g.prelu(in[0], in[1]) }},
		{"gelu", [][]int{{3, 11}}, func(g *Graph, in []*Tensor) *Tensor { return g.GELU(g.Scale(in[0], 3)) }},
		{"silu", [][]int{{3, 11}}, func(g *Graph, in []*Tensor) *Tensor { return g.SiLU(g.Scale(in[0], 3)) }},
		{"sigmoid", [][]int{{3, 11}}, func(g *Graph, in []*Tensor) *Tensor { return g.Sigmoid(g.Scale(in[0], 3)) }},
		{"tanh", [][]int{{3, 11}}, func(g *Graph, in []*Tensor) *Tensor { return g.Tanh(in[0]) }},
		{"exp_log", [][]int{{9}}, func(g *Graph, in []*Tensor) *Tensor { return g.Log(g.AddScalar(g.Exp(in[0]), 1)) }},
		{"sqrt_abs", [][]int{{9}}, func(g *Graph, in []*Tensor) *Tensor { return g.Sqrt(g.AddScalar(g.Abs(in[0]), 0.3)) }},
		{"dropout", [][]int{{50}}, func(g *Graph, in []*Tensor) *Tensor { return g.Dropout(in[0], 0.3) }},
		{"sum_axes", [][]int{{2, 3, 4, 5}}, func(g *Graph, in []*Tensor) *Tensor { return g.Sum(in[0], 1, 3) }},
		{"mean_keep", [][]int{{2, 3, 4}}, func(g *Graph, in []*Tensor) *Tensor { return g.reduce(in[0], true, true, []int{-1}) }},
		{"mean_all", [][]int{{2, 3, 4}}, func(g *Graph, in []*Tensor) *Tensor { return g.Mean(in[0]) }},
		{"softmax_mid", [][]int{{2, 4, 3}}, func(g *Graph, in []*Tensor) *Tensor { return g.Softmax(in[0], 1) }},
		{"logsoftmax", [][]int{{3, 5}}, func(g *Graph, in []*Tensor) *Tensor { return g.LogSoftmax(in[0], -1) }},
	}
	for _, c := range cases {
		ins := make([]*Tensor, len(c.in))
		for i, s := range c.in {
			ins[i] = randT(r, s...)
		}
		gradCheck(t, c.name, ins, c.f)
	}
}

func TestGradShapeAndMatmul(t *testing.T) {
	r := NewRNG(2)
	cases := []struct {
		name string
		in   [][]int
		f    func(g *Graph, in []*Tensor) *Tensor
	}{
		{"reshape", [][]int{{2, 3, 4}}, func(g *Graph, in []*Tensor) *Tensor { return g.Square(g.Reshape(in[0], 4, -1)) }},
		{"permute", [][]int{{2, 3, 4, 5}}, func(g *Graph, in []*Tensor) *Tensor { return g.Permute(in[0], 2, 0, 3, 1) }},
		{"transpose", [][]int{{3, 4}}, func(g *Graph, in []*Tensor) *Tensor { return g.Transpose(in[0], 0, 1) }},
		{"concat", [][]int{{2, 3, 4}, {2, 1, 4}}, func(g *Graph, in []*Tensor) *Tensor { return g.Concat(1, in[0], in[1], in[0]) }},
		{"narrow", [][]int{{2, 5, 3}}, func(g *Graph, in []*Tensor) *Tensor { return g.Narrow(in[0], 1, 1, 3) }},
		{"pad", [][]int{{2, 3, 4}}, func(g *Graph, in []*Tensor) *Tensor { return g.Pad(in[0], [][2]int{{0, 0}, {1, 2}, {-1, 1}}, 0.5) }},
		{"linear", [][]int{{2, 3, 5}, {4, 5}, {4}}, func(g *Graph, in []*Tensor) *Tensor { return g.Linear(in[0], in[1], in[2]) }},
		{"linear_nobias", [][]int{{3, 5}, {4, 5}}, func(g *Graph, in []*Tensor) *Tensor { return g.Linear(in[0], in[1], nil) }},
	}
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		ta, tb := tr[0], tr[1]
		as, bs := []int{2, 3, 4}, []int{2, 4, 5}
		if ta {
			as = []int{2, 4, 3}
		}
		if tb {
			bs = []int{2, 5, 4}
		}
		cases = append(cases, struct {
			name string
			in   [][]int
			f    func(g *Graph, in []*Tensor) *Tensor
		}{fmt.Sprintf("bmm_%v_%v", ta, tb), [][]int{as, bs}, func(g *Graph, in []*Tensor) *Tensor {
			return g.MatMul(in[0], in[1], MatMulOptions{TransA: ta, TransB: tb})
		}})
		cases = append(cases, struct {
			name string
			in   [][]int
			f    func(g *Graph, in []*Tensor) *Tensor
		}{fmt.Sprintf("mm_shared_%v_%v", ta, tb), [][]int{as, bs[1:]}, func(g *Graph, in []*Tensor) *Tensor {
			return g.MatMul(in[0], in[1], MatMulOptions{TransA: ta, TransB: tb})
		}})
	}
	for _, c := range cases {
		ins := make([]*Tensor, len(c.in))
		for i, s := range c.in {
			ins[i] = randT(r, s...)
		}
		gradCheck(t, c.name, ins, c.f)
	}
}
