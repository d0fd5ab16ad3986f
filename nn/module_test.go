package nn

import (
	"errors"
	"math"
	"strings"
	"testing"
)

var mhaTorchOut = []float64{-0.499047, 0.479514, 0.269299, -0.572123, 0.110987, 0.614363, -0.311187, -0.296918, 0.350695,
	-0.236475, -0.199588, 0.39328, 0.066349, -0.327296, 0.234345, 0.354557, -0.131203, 0.077546, 0.115274,
	-0.088225, 0.007613, 0.185452, 0.020336, -0.044354}

// Reference from PyTorch 1.13 (python3-torch): MONAI SABlock arithmetic
// (qkv Linear without bias, reshape (B,N,3,H,d), permute (2,0,3,1,4),
// softmax(q·kᵀ/√d)·v, out_proj) with weights qkv.w[i] = 0.5·sin(0.37i),
// out_proj.w[i] = 0.5·cos(0.23i), out_proj.b[i] = 0.01i, x[i] = cos(0.51i),
// B=1, N=3, hidden 8, 2 heads; output rounded to 6 digits. The script is
// testdata/torch_reference.py (self_attention).
func TestMultiHeadAttentionPyTorch(t *testing.T) {
	m, err := NewMultiHeadAttention(8, 2, AttentionOptions{}, NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.QKV.Weight.Data {
		m.QKV.Weight.Data[i] = float32(0.5 * math.Sin(0.37*float64(i)))
	}
	for i := range m.OutProj.Weight.Data {
		m.OutProj.Weight.Data[i] = float32(0.5 * math.Cos(0.23*float64(i)))
	}
	for i := range m.OutProj.Bias.Data {
		m.OutProj.Bias.Data[i] = float32(0.01 * float64(i))
	}
	x := NewTensor(1, 3, 8)
	for i := range x.Data {
		x.Data[i] = float32(math.Cos(0.51 * float64(i)))
	}
	want := mhaTorchOut
	g := NewGraph(Options{})
	y := m.Forward(g, x)
	if g.Err() != nil {
		t.Fatal(g.Err())
	}
	for i, w := range want {
		if math.Abs(float64(y.Data[i])-w) > 2e-6 {
			t.Fatalf("y[%d] = %v, want %v", i, y.Data[i], w)
		}
	}
	keys := StateDict(m)
	for _, k := range []string{"qkv.weight", "out_proj.weight", "out_proj.bias"} {
		if keys[k] == nil {
			t.Errorf("missing %s", k)
		}
	}
	if len(keys) != 3 {
		t.Errorf("state dict has %d keys, want 3 (qkv without bias)", len(keys))
	}
}

func TestGradAttention(t *testing.T) {
	r := NewRNG(11)
	m, _ := NewMultiHeadAttention(6, 3, AttentionOptions{QKVBias: true}, r)
	x := randT(r, 2, 4, 6)
	ins := []*Tensor{x, m.QKV.Weight, m.QKV.Bias, m.OutProj.Weight}
	gradCheck(t, "mha", ins, func(g *Graph, _ []*Tensor) *Tensor { return m.Forward(g, x) })
	q, k, v := randT(r, 2, 3, 4), randT(r, 2, 5, 4), randT(r, 2, 5, 3)
	gradCheck(t, "sdpa", []*Tensor{q, k, v}, func(g *Graph, in []*Tensor) *Tensor { return g.attention(in[0], in[1], in[2], 0.7) })
}

func smallNet(r *RNG) *Sequential {
	return NewSequential(
		NewConv3d(2, 4, Cube(3), ConvOptions{Padding: Cube(1)}, r),
		NewBatchNorm3d(4), ReLU,
		&AdaptiveAvgPool3d{Size: Cube(1)},
		Func(func(g *Graph, x *Tensor) *Tensor { return g.Flatten(x, 1) }),
		NewLinear(4, 3, LinearOptions{}, r))
}

func TestStateDictRoundTrip(t *testing.T) {
	a, b := smallNet(NewRNG(1)), smallNet(NewRNG(2))
	sd := StateDict(a)
	want := []string{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked", "5.weight", "5.bias"}
	if len(sd) != len(want) {
		t.Fatalf("keys %v", keysOf(sd))
	}
	for _, k := range want {
		if sd[k] == nil {
			t.Fatalf("missing %s in %v", k, keysOf(sd))
		}
	}
	// "module." prefixes (DataParallel) are stripped.
	pre := map[string]*Tensor{}
	for k, v := range sd {
		pre["module."+k] = v
	}
	rep, err := LoadStateDict(b, pre, LoadOptions{Strict: true, StripPrefix: "module."})
	if err != nil || rep.Loaded != len(want) {
		t.Fatalf("load: %v (%+v)", err, rep)
	}
	for k, v := range StateDict(b) {
		if !SameShape(v.Shape, sd[k].Shape) || v.Data[0] != sd[k].Data[0] {
			t.Fatalf("%s not copied", k)
		}
	}
}

func TestLoadStateDictReportsEverything(t *testing.T) {
	m := smallNet(NewRNG(1))
	sd := StateDict(smallNet(NewRNG(2)))
	delete(sd, "0.bias")
	sd["extra.weight"] = NewTensor(2)
	sd["5.weight"] = NewTensor(2, 4) // classifier with 2 classes instead of 3
	before := m.Layers[0].(*Conv3d).Weight.Data[0]
	_, err := LoadStateDict(m, sd, LoadOptions{Strict: true})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("want LoadError, got %v", err)
	}
	msg := err.Error()
	for _, s := range []string{"missing keys: 0.bias", "unexpected keys: extra.weight", "5.weight: got [2 4], want [3 4]"} {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q lacks %q", msg, s)
		}
	}
	if m.Layers[0].(*Conv3d).Weight.Data[0] != before {
		t.Error("a failed strict load modified the module")
	}
	// Transfer learning: non-strict, skip the mismatched head.
	rep, err := LoadStateDict(m, sd, LoadOptions{SkipMismatched: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) != 1 || len(rep.Unexpected) != 1 || len(rep.Mismatched) != 1 || rep.Loaded != 7 {
		t.Fatalf("report %+v", rep)
	}
}

func keysOf(m map[string]*Tensor) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	return k
}

func TestFreezeAndTrainingMode(t *testing.T) {
	r := NewRNG(4)
	enc := NewSequential(NewConv3d(1, 2, Cube(3), ConvOptions{Padding: Cube(1)}, r), NewBatchNorm3d(2), ReLU,
		&AdaptiveAvgPool3d{Size: Cube(1)}, Func(func(g *Graph, x *Tensor) *Tensor { return g.Flatten(x, 1) }))
	head := NewLinear(2, 2, LinearOptions{}, r)
	Freeze(enc)
	SetTraining(enc, false)
	if len(Parameters(enc)) != 0 || len(Parameters(head)) != 2 {
		t.Fatalf("frozen encoder still lists parameters")
	}
	bn := enc.Layers[1].(*BatchNorm)
	rm := bn.RunningMean.Clone()
	x := randT(r, 2, 1, 4, 4, 4)
	x.SetRequiresGrad(false)
	g := NewGraph(Options{Grad: true})
	feat := enc.Forward(g, x)
	if len(g.tape) != 0 {
		t.Fatalf("a frozen encoder on a plain input recorded %d operations (it must cost only inference)", len(g.tape))
	}
	loss := g.CrossEntropy(head.Forward(g, feat), []int{0, 1}, CEOptions{})
	if err := g.Backward(loss); err != nil {
		t.Fatal(err)
	}
	if enc.Layers[0].(*Conv3d).Weight.Grad() != nil {
		t.Error("frozen conv received a gradient")
	}
	if head.Weight.Grad() == nil {
		t.Error("head got no gradient")
	}
	if bn.RunningMean.Data[0] != rm.Data[0] || bn.NumBatchesTracked.Data[0] != 0 {
		t.Error("eval-mode BatchNorm updated its running statistics")
	}
}

func TestNoGradRecordsNothing(t *testing.T) {
	w := NewTensor(3).SetRequiresGrad(true)
	g := NewGraph(Options{Grad: true})
	var y *Tensor
	g.NoGrad(func() { y = g.Mul(w, w) })
	if len(g.tape) != 0 || y.needsGrad() {
		t.Fatal("NoGrad recorded an operation")
	}
	if err := g.Backward(g.Sum(y)); err == nil {
		t.Fatal("Backward without history must fail")
	}
	inf := NewGraph(Options{})
	inf.Add(w, w)
	if len(inf.tape) != 0 {
		t.Fatal("inference graph recorded an operation")
	}
}

func TestGradientAccumulatesAndZeroes(t *testing.T) {
	w, _ := FromData([]float32{1, 2}, 2)
	w.SetRequiresGrad(true)
	for range 2 {
		g := NewGraph(Options{Grad: true})
		if err := g.Backward(g.Sum(g.Scale(w, 3))); err != nil {
			t.Fatal(err)
		}
	}
	if w.Grad().Data[0] != 6 {
		t.Fatalf("two backward passes give %v, want 6", w.Grad().Data[0])
	}
	w.ZeroGrad()
	if w.Grad() != nil {
		t.Fatal("ZeroGrad left a gradient")
	}
	g := NewGraph(Options{Grad: true})
	_ = g.Backward(g.Sum(g.Scale(w, 3)))
	if w.Grad().Data[1] != 3 {
		t.Fatalf("after ZeroGrad got %v, want 3", w.Grad().Data[1])
	}
}

// Custom ops take part in autograd; a wrong backward is caught by the
// gradient checker (the checker can fail).
func TestCustomOp(t *testing.T) {
	cube := func(wrong bool) func(g *Graph, in []*Tensor) *Tensor {
		return func(g *Graph, in []*Tensor) *Tensor {
			x := in[0]
			out := g.Alloc(x.Shape...)
			for i, v := range x.Data {
				out.Data[i] = v * v * v
			}
			return g.Custom([]*Tensor{x}, out, func(gout []float32) [][]float32 {
				gx := make([]float32, len(gout))
				for i, v := range x.Data {
					k := float32(3)
					if wrong {
						k = 2
					}
					gx[i] = gout[i] * k * v * v
				}
				return [][]float32{gx}
			})
		}
	}
	r := NewRNG(12)
	gradCheck(t, "custom_cube", []*Tensor{randT(r, 5)}, cube(false))
	ft := &testing.T{}
	done := make(chan bool)
	go func() { defer close(done); gradCheck(ft, "wrong", []*Tensor{randT(r, 5)}, cube(true)) }()
	<-done
	if !ft.Failed() {
		t.Fatal("gradient checker accepted a wrong derivative")
	}
}

func TestSeededInitIsReproducible(t *testing.T) {
	a, b := smallNet(NewRNG(7)), smallNet(NewRNG(7))
	c := smallNet(NewRNG(8))
	wa, wb, wc := a.Layers[0].(*Conv3d).Weight, b.Layers[0].(*Conv3d).Weight, c.Layers[0].(*Conv3d).Weight
	bound := float32(1 / math.Sqrt(2*27))
	same := true
	for i := range wa.Data {
		if wa.Data[i] != wb.Data[i] {
			t.Fatal("same seed gave different weights")
		}
		if wa.Data[i] != wc.Data[i] {
			same = false
		}
		if wa.Data[i] < -bound || wa.Data[i] > bound {
			t.Fatalf("Kaiming-uniform(a=√5) weight %v outside ±1/√fan_in = %v", wa.Data[i], bound)
		}
	}
	if same {
		t.Fatal("different seeds gave the same weights")
	}
}

func TestShapeErrorsDoNotPanic(t *testing.T) {
	g := NewGraph(Options{})
	y := g.Add(NewTensor(2, 3), NewTensor(4))
	y = g.ReLU(g.Linear(y, NewTensor(3, 3), nil))
	if g.Err() == nil || !strings.Contains(g.Err().Error(), "broadcast") {
		t.Fatalf("err %v", g.Err())
	}
	if len(y.Data) != 0 {
		t.Fatal("ops after an error must return the empty placeholder")
	}
	g.Reset()
	if g.Err() != nil {
		t.Fatal("Reset kept the error")
	}
	g.layerNorm(NewTensor(4, 6), 8, nil, nil, 0)
	if g.Err() == nil {
		t.Fatal("LayerNorm size straddling rows accepted")
	}
}

func TestFoldBatchNormMatches(t *testing.T) {
	r := NewRNG(13)
	c := NewConv3d(3, 4, Cube(3), ConvOptions{Padding: Cube(1)}, r)
	bn := NewBatchNorm3d(4)
	InitUniform(bn.Weight, 0.5, 1.5, r)
	InitUniform(bn.Bias, -1, 1, r)
	InitUniform(bn.RunningMean, -1, 1, r)
	InitUniform(bn.RunningVar, 0.5, 2, r)
	bn.Training = false
	x := randT(r, 2, 3, 5, 4, 6)
	g := NewGraph(Options{})
	want := bn.Forward(g, c.Forward(g, x)).Clone()
	if err := FoldBatchNorm(c, bn); err != nil {
		t.Fatal(err)
	}
	got := c.Forward(g, x)
	for i := range want.Data {
		if math.Abs(float64(got.Data[i]-want.Data[i])) > 1e-4 {
			t.Fatalf("folded conv differs at %d: %v vs %v", i, got.Data[i], want.Data[i])
		}
	}
}

// The fused attention path equals the composite one (matmul, softmax,
// matmul) and both have correct gradients.
func TestFusedAttentionMatchesComposite(t *testing.T) {
	r := NewRNG(16)
	m, _ := NewMultiHeadAttention(8, 2, AttentionOptions{QKVBias: true}, r)
	x := randT(r, 2, 5, 8)
	g := NewGraph(Options{})
	fused := m.Forward(g, x)
	m.Training, m.DropoutRate = true, 1e-12 // composite path, dropout keeps everything
	comp := m.Forward(g, x)
	for i := range fused.Data {
		if math.Abs(float64(fused.Data[i]-comp.Data[i])) > 1e-5 {
			t.Fatalf("fused %v vs composite %v at %d", fused.Data[i], comp.Data[i], i)
		}
	}
	gradCheck(t, "mha_composite", []*Tensor{x, m.QKV.Weight}, func(g *Graph, _ []*Tensor) *Tensor { return m.Forward(g, x) })
	gradCheck(t, "sdpa_packed", []*Tensor{randT(r, 2, 4, 12)}, func(g *Graph, in []*Tensor) *Tensor {
		return g.selfAttentionPacked(in[0], 2, 0.6, nil)
	})
}
