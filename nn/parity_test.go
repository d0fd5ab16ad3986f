package nn

import (
	"math"
	"testing"
)

func fillSin(t *Tensor, a, s, add float64) {
	for i := range t.Data {
		t.Data[i] = float32(s*math.Sin(a*float64(i)+0.3) + add)
	}
	t.bump()
}

// A whole training forward/backward (conv+bias, BatchNorm in training,
// ReLU, max pool, strided conv, GroupNorm, GELU, adaptive pool, Linear,
// weighted label-smoothed cross-entropy) against PyTorch 1.13.
//
// Reference numbers from python3-torch with the same deterministic
// weights (w[i] = s·sin(a·i+0.3)(+1 for norm weights), x[i] = cos(0.13i),
// x of shape (2,2,6,6,6), targets [2,0], class weights [1,2,0.5],
// smoothing 0.1): loss, and per parameter gradient sum, sum of |grad| and
// first element; running statistics after the step.
func TestTrainingStepPyTorchParity(t *testing.T) {
	r := NewRNG(1)
	c1 := NewConv3d(2, 3, Cube(3), ConvOptions{Padding: Cube(1)}, r)
	bn := NewBatchNorm3d(3)
	c2 := NewConv3d(3, 4, Cube(3), ConvOptions{Stride: Cube(2), Padding: Cube(1), NoBias: true}, r)
	gn := NewGroupNorm(2, 4)
	fc := NewLinear(4, 3, LinearOptions{}, r)
	fillSin(c1.Weight, 0.37, 0.3, 0)
	fillSin(c1.Bias, 0.5, 0.1, 0)
	fillSin(bn.Weight, 0.9, 0.2, 1)
	fillSin(bn.Bias, 0.7, 0.1, 0)
	fillSin(c2.Weight, 0.23, 0.3, 0)
	fillSin(gn.Weight, 1.1, 0.3, 1)
	fillSin(gn.Bias, 0.4, 0.1, 0)
	fillSin(fc.Weight, 0.61, 0.5, 0)
	fillSin(fc.Bias, 0.8, 0.1, 0)
	x := NewTensor(2, 2, 6, 6, 6)
	for i := range x.Data {
		x.Data[i] = float32(math.Cos(0.13 * float64(i)))
	}
	g := NewGraph(Options{Grad: true, Arena: NewArena()})
	h := g.MaxPool3d(g.ReLU(bn.Forward(g, c1.Forward(g, x))), PoolOptions{Kernel: Cube(2)})
	h = g.GELU(gn.Forward(g, c2.Forward(g, h)))
	h = g.Flatten(g.AdaptiveAvgPool3d(h, Cube(1)), 1)
	loss := g.CrossEntropy(fc.Forward(g, h), []int{2, 0}, CEOptions{Weight: []float32{1, 2, 0.5}, LabelSmoothing: 0.1})
	if err := g.Backward(loss); err != nil {
		t.Fatal(err)
	}
	if !near(float64(loss.Item()), 0.9866058230400085, 2e-6) {
		t.Errorf("loss %v", loss.Item())
	}
	want := []struct {
		name          string
		p             *Tensor
		sum, abs, at0 float64
	}{
		{"c1.w", c1.Weight, -0.0002163960598409176, 0.07331160455942154, 0.0014922977425158024},
		{"c1.b", c1.Bias, -7.960920811456162e-11, 3.3085711947933305e-10, -9.08073616301408e-11},
		{"bn.w", bn.Weight, -6.816867971792817e-05, 0.003222986590117216, -0.0016455776058137417},
		{"bn.b", bn.Bias, -0.0015695362817496061, 0.0015695362817496061, -0.00045865087304264307},
		{"c2.w", c2.Weight, 0.004729581531137228, 0.5057821869850159, 0.002854101825505495},
		{"gn.w", gn.Weight, -0.11194393783807755, 0.16050687432289124, 0.024281473830342293},
		{"gn.b", gn.Bias, -0.10621142387390137, 0.1480875164270401, 0.020938046276569366},
		{"fc.w", fc.Weight, -1.1175870895385742e-08, 0.47551634907722473, -0.02696812152862549},
		{"fc.b", fc.Bias, 0, 0.2720455527305603, -0.07843148708343506},
	}
	for _, w := range want {
		gr := w.p.Grad()
		if gr == nil {
			t.Fatalf("%s: no gradient", w.name)
		}
		var s, a float64
		for _, v := range gr.Data {
			s += float64(v)
			a += math.Abs(float64(v))
		}
		for _, c := range [][2]float64{{s, w.sum}, {a, w.abs}, {float64(gr.Data[0]), w.at0}} {
			if math.Abs(c[0]-c[1]) > 2e-6+1e-4*math.Abs(c[1]) {
				t.Errorf("%s: got %.9g want %.9g (sum, |sum|, first)", w.name, c[0], c[1])
			}
		}
	}
	rm := []float64{0.00045618865988217294, 0.003837194060906768, 0.009290290996432304}
	rv := []float64{1.333876371383667, 1.2501157522201538, 1.3750346899032593}
	for i := range rm {
		if math.Abs(float64(bn.RunningMean.Data[i])-rm[i]) > 1e-6 || math.Abs(float64(bn.RunningVar.Data[i])-rv[i]) > 1e-5 {
			t.Errorf("running stats [%d] = %v, %v; want %v, %v", i, bn.RunningMean.Data[i], bn.RunningVar.Data[i], rm[i], rv[i])
		}
	}
}
