package nn

import (
	"math"
	"testing"

	"github.com/metasurv/metasurv/internal/gemm"
)

// naiveConv3d is a direct float64 reference of torch's conv3d.
func naiveConv3d(x, w *Tensor, b *Tensor, o ConvOptions) *Tensor {
	c, err := newConvGeom(x.Shape, w.Shape, o)
	if err != nil {
		panic(err)
	}
	o = c.o
	y := NewTensor(c.n, c.cout, c.out[0], c.out[1], c.out[2])
	cinG, coutG := c.cin/o.Groups, c.cout/o.Groups
	idx := 0
	for n := 0; n < c.n; n++ {
		for co := 0; co < c.cout; co++ {
			gi := co / coutG
			for od := 0; od < c.out[0]; od++ {
				for oh := 0; oh < c.out[1]; oh++ {
					for ow := 0; ow < c.out[2]; ow++ {
						var s float64
						if b != nil {
							s = float64(b.Data[co])
						}
						for ci := 0; ci < cinG; ci++ {
							for kd := 0; kd < c.k[0]; kd++ {
								for kh := 0; kh < c.k[1]; kh++ {
									for kw := 0; kw < c.k[2]; kw++ {
										id := od*o.Stride[0] - o.Padding[0] + kd*o.Dilation[0]
										ih := oh*o.Stride[1] - o.Padding[1] + kh*o.Dilation[1]
										iw := ow*o.Stride[2] - o.Padding[2] + kw*o.Dilation[2]
										if id < 0 || ih < 0 || iw < 0 || id >= c.in[0] || ih >= c.in[1] || iw >= c.in[2] {
											continue
										}
										xv := x.Data[(((n*c.cin+gi*cinG+ci)*c.in[0]+id)*c.in[1]+ih)*c.in[2]+iw]
										wv := w.Data[(((co*cinG+ci)*c.k[0]+kd)*c.k[1]+kh)*c.k[2]+kw]
										s += float64(xv) * float64(wv)
									}
								}
							}
						}
						y.Data[idx] = float32(s)
						idx++
					}
				}
			}
		}
	}
	return y
}

type convCase struct {
	name string
	x, w []int
	o    ConvOptions
	bias bool
}

var convCases = []convCase{
	{"k3p1", []int{2, 3, 5, 4, 6}, []int{4, 3, 3, 3, 3}, ConvOptions{Padding: [3]int{1, 1, 1}}, true},
	{"k3s2", []int{1, 2, 7, 6, 5}, []int{3, 2, 3, 3, 3}, ConvOptions{Stride: [3]int{2, 2, 2}, Padding: [3]int{1, 0, 1}}, false},
	{"dil_groups", []int{1, 4, 6, 6, 7}, []int{6, 2, 2, 3, 2}, ConvOptions{Dilation: [3]int{2, 1, 2}, Groups: 2, Padding: [3]int{1, 2, 0}}, true},
	{"pointwise", []int{2, 5, 3, 2, 4}, []int{3, 5, 1, 1, 1}, ConvOptions{}, true},
	{"depthwise", []int{1, 3, 5, 5, 5}, []int{3, 1, 3, 3, 3}, ConvOptions{Groups: 3, Padding: [3]int{1, 1, 1}, Stride: [3]int{1, 2, 3}}, false},
	{"k1s2", []int{1, 3, 5, 5, 5}, []int{2, 3, 1, 1, 1}, ConvOptions{Stride: [3]int{2, 2, 2}}, false},
}

func TestConv3dMatchesNaive(t *testing.T) {
	r := NewRNG(3)
	for _, c := range convCases {
		x, w := randT(r, c.x...), randT(r, c.w...)
		var b *Tensor
		if c.bias {
			b = randT(r, c.w[0])
		}
		g := NewGraph(Options{})
		got := g.Conv3d(x, w, b, c.o)
		if g.Err() != nil {
			t.Fatal(g.Err())
		}
		want := naiveConv3d(x, w, b, c.o)
		if !SameShape(got.Shape, want.Shape) {
			t.Fatalf("%s: shape %v want %v", c.name, got.Shape, want.Shape)
		}
		for i := range want.Data {
			if math.Abs(float64(got.Data[i]-want.Data[i])) > 1e-4 {
				t.Fatalf("%s: elem %d got %v want %v", c.name, i, got.Data[i], want.Data[i])
			}
		}
	}
}

func TestGradConv3d(t *testing.T) {
	r := NewRNG(4)
	for _, c := range convCases {
		ins := []*Tensor{randT(r, c.x...), randT(r, c.w...)}
		if c.bias {
			ins = append(ins, randT(r, c.w[0]))
		}
		o := c.o
		gradCheck(t, "conv_"+c.name, ins, func(g *Graph, in []*Tensor) *Tensor {
			var b *Tensor
			if len(in) > 2 {
				b = in[2]
			}
			return g.Conv3d(in[0], in[1], b, o)
		})
	}
}

func TestGradConvTranspose3d(t *testing.T) {
	r := NewRNG(5)
	cases := []struct {
		x, w []int
		o    ConvOptions
	}{
		{[]int{2, 3, 3, 2, 4}, []int{3, 2, 2, 2, 2}, ConvOptions{Stride: [3]int{2, 2, 2}}},
		{[]int{1, 4, 3, 3, 3}, []int{4, 3, 3, 3, 3}, ConvOptions{Stride: [3]int{2, 1, 2}, Padding: [3]int{1, 1, 1}, OutputPadding: [3]int{1, 0, 1}, Groups: 2}},
	}
	for _, c := range cases {
		o := c.o
		ins := []*Tensor{randT(r, c.x...), randT(r, c.w...), randT(r, c.w[1]*o.norm().Groups)}
		gradCheck(t, "convT", ins, func(g *Graph, in []*Tensor) *Tensor { return g.ConvTranspose3d(in[0], in[1], in[2], o) })
	}
}

// The transposed convolution is the adjoint of the convolution:
// <conv(x), y> = <x, convT(y)> with the same weight.
func TestConvTransposeIsAdjoint(t *testing.T) {
	r := NewRNG(6)
	o := ConvOptions{Stride: [3]int{2, 2, 1}, Padding: [3]int{1, 0, 1}, Groups: 1}
	x, w := randT(r, 1, 2, 5, 4, 3), randT(r, 3, 2, 3, 2, 3)
	g := NewGraph(Options{})
	y := g.Conv3d(x, w, nil, o)
	z := randT(r, y.Shape...)
	xt := g.ConvTranspose3d(z, w, nil, o)
	if g.Err() != nil {
		t.Fatal(g.Err())
	}
	if !SameShape(xt.Shape, x.Shape) {
		t.Fatalf("adjoint shape %v want %v", xt.Shape, x.Shape)
	}
	var a, b float64
	for i := range y.Data {
		a += float64(y.Data[i] * z.Data[i])
	}
	for i := range x.Data {
		b += float64(x.Data[i] * xt.Data[i])
	}
	if math.Abs(a-b) > 1e-4*math.Abs(a)+1e-4 {
		t.Fatalf("<conv x, z> = %v but <x, convT z> = %v", a, b)
	}
}

func TestConvShapeErrors(t *testing.T) {
	g := NewGraph(Options{})
	y := g.Conv3d(NewTensor(1, 3, 4, 4, 4), NewTensor(2, 2, 3, 3, 3), nil, ConvOptions{})
	if g.Err() == nil || len(y.Data) != 0 {
		t.Fatal("channel mismatch not reported")
	}
	g = NewGraph(Options{})
	g.Conv3d(NewTensor(1, 1, 2, 2, 2), NewTensor(1, 1, 3, 3, 3), nil, ConvOptions{})
	if g.Err() == nil {
		t.Fatal("kernel larger than input not reported")
	}
}

// The fused inference path equals conv + add + relu, and records the same
// gradients when gradients are on.
func TestConv3dFused(t *testing.T) {
	r := NewRNG(21)
	x, w, b := randT(r, 2, 3, 5, 5, 5), randT(r, 4, 3, 3, 3, 3), randT(r, 4)
	o := ConvOptions{Padding: Cube(1)}
	res := randT(r, 2, 4, 5, 5, 5)
	g := NewGraph(Options{})
	want := g.ReLU(g.Add(g.Conv3d(x, w, b, o), res))
	got := g.conv3dFused(x, w, b, o, fuse{Residual: res, ReLU: true}, nil)
	if g.Err() != nil {
		t.Fatal(g.Err())
	}
	for i := range want.Data {
		if math.Abs(float64(got.Data[i]-want.Data[i])) > 1e-5 {
			t.Fatalf("fused %v vs unfused %v at %d", got.Data[i], want.Data[i], i)
		}
	}
	gradCheck(t, "conv_fused", []*Tensor{x, w, b, res}, func(g *Graph, in []*Tensor) *Tensor {
		return g.conv3dFused(in[0], in[1], in[2], o, fuse{Residual: in[3], ReLU: true}, nil)
	})
	g.conv3dFused(x, w, b, o, fuse{Residual: NewTensor(1, 4, 5, 5, 5)}, nil)
	if g.Err() == nil {
		t.Fatal("residual of the wrong shape accepted")
	}
}

// A deep, low-resolution convolution (a ResNet's layer4 at 3³: lean, its
// bfloat16 weights rounded per call) of an Options.BF16 graph, with the
// fused residual and ReLU, equals the float64 convolution of the rounded
// operands, and follows its weights when they are rewritten in place
// (no stale copy) or through CopyFrom.
func TestConv3dBF16Lean(t *testing.T) {
	if !HaveBF16() {
		t.Skip("no AVX512_BF16 here")
	}
	r := NewRNG(6)
	conv := NewConv3d(128, 96, [3]int{3, 3, 3}, ConvOptions{Padding: [3]int{1, 1, 1}}, r) // 332 K weights: rounded per call
	x, res := randT(r, 1, 128, 3, 3, 3), randT(r, 1, 96, 3, 3, 3)
	round := func(src *Tensor) *Tensor {
		o := NewTensor(src.Shape...)
		for i, v := range src.Data {
			o.Data[i] = gemm.FromBF16(gemm.ToBF16(v))
		}
		return o
	}
	g := NewGraph(Options{BF16: true, Arena: NewArena()})
	check := func(step string) {
		t.Helper()
		g.Reset()
		got := conv.ForwardAct(g, x, ActOptions{Residual: res, ReLU: true})
		if err := g.Err(); err != nil {
			t.Fatal(err)
		}
		want := naiveConv3d(round(x), round(conv.Weight), conv.Bias, conv.Options)
		for i, w := range want.Data {
			v := math.Max(float64(w)+float64(res.Data[i]), 0)
			if d := math.Abs(float64(got.Data[i]) - v); d > 1e-4*(1+math.Abs(v)) {
				t.Fatalf("%s: y[%d] = %g, want %g", step, i, got.Data[i], v)
			}
		}
	}
	check("first pass")
	check("second pass")
	for i := range conv.Weight.Data { // in place, no version bump
		conv.Weight.Data[i] *= -0.5
	}
	check("weights rewritten in place")
	w2 := randT(r, conv.Weight.Shape...)
	conv.Weight.CopyFrom(w2.Data)
	check("weights after CopyFrom")
}
