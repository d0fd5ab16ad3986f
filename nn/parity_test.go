package nn

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func fillSin(t *Tensor, a, s, add float64) {
	for i := range t.Data {
		t.Data[i] = float32(s*math.Sin(a*float64(i)+0.3) + add)
	}
	t.bump()
}

// PyTorch's numbers for TestTrainingStepPyTorchParity, printed by
// testdata/torch_reference.py (training_step); TestTorchReferenceScript
// checks that the script still produces them.
var (
	trainParityLoss  = 0.9866058230400085
	trainParityGrads = []struct {
		name          string
		sum, abs, at0 float64
	}{
		{"c1.w", -0.0002163960598409176, 0.07331160455942154, 0.0014922977425158024},
		{"c1.b", -7.960920811456162e-11, 3.3085711947933305e-10, -9.08073616301408e-11},
		{"bn.w", -6.816867971792817e-05, 0.003222986590117216, -0.0016455776058137417},
		{"bn.b", -0.0015695362817496061, 0.0015695362817496061, -0.00045865087304264307},
		{"c2.w", 0.004729581531137228, 0.5057821869850159, 0.002854101825505495},
		{"gn.w", -0.11194393783807755, 0.16050687432289124, 0.024281473830342293},
		{"gn.b", -0.10621142387390137, 0.1480875164270401, 0.020938046276569366},
		{"fc.w", -1.1175870895385742e-08, 0.47551634907722473, -0.02696812152862549},
		{"fc.b", 0, 0.2720455527305603, -0.07843148708343506},
	}
	trainParityRunMean = []float64{0.00045618865988217294, 0.003837194060906768, 0.009290290996432304}
	trainParityRunVar  = []float64{1.333876371383667, 1.2501157522201538, 1.3750346899032593}
)

// A whole training forward/backward (conv+bias, BatchNorm in training,
// ReLU, max pool, strided conv, GroupNorm, GELU, adaptive pool, Linear,
// weighted label-smoothed cross-entropy) against PyTorch 1.13.
//
// Reference numbers (trainParity*) from python3-torch with the same deterministic
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
	if !near(float64(loss.Item()), trainParityLoss, 2e-6) {
		t.Errorf("loss %v", loss.Item())
	}
	params := map[string]*Tensor{"c1.w": c1.Weight, "c1.b": c1.Bias, "bn.w": bn.Weight, "bn.b": bn.Bias,
		"c2.w": c2.Weight, "gn.w": gn.Weight, "gn.b": gn.Bias, "fc.w": fc.Weight, "fc.b": fc.Bias}
	for _, w := range trainParityGrads {
		gr := params[w.name].Grad()
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
	rm, rv := trainParityRunMean, trainParityRunVar
	for i := range rm {
		if math.Abs(float64(bn.RunningMean.Data[i])-rm[i]) > 1e-6 || math.Abs(float64(bn.RunningVar.Data[i])-rv[i]) > 1e-5 {
			t.Errorf("running stats [%d] = %v, %v; want %v, %v", i, bn.RunningMean.Data[i], bn.RunningVar.Data[i], rm[i], rv[i])
		}
	}
}

// The numbers above come from testdata/torch_reference.py: with
// METASURV_TORCH=1 (and /usr/bin/python3 with torch) this test runs it
// and checks that it reproduces every constant within the parity tests'
// tolerances.
func TestTorchReferenceScript(t *testing.T) {
	if os.Getenv("METASURV_TORCH") == "" {
		t.Skip("set METASURV_TORCH=1 to re-run testdata/torch_reference.py with /usr/bin/python3 and torch")
	}
	out, err := exec.Command("/usr/bin/python3", filepath.Join("testdata", "torch_reference.py")).Output()
	if err != nil {
		t.Fatalf("torch_reference.py: %v", err)
	}
	var ref struct {
		TrainingStep struct {
			Loss        float64
			Grads       [][]any
			RunningMean []float64 `json:"running_mean"`
			RunningVar  []float64 `json:"running_var"`
		} `json:"training_step"`
		CrossEntropy struct {
			Loss float64
			Grad []float64
		} `json:"cross_entropy"`
		SelfAttention struct{ Out []float64 } `json:"self_attention"`
		BCEWithLogits struct {
			Loss float64
			Grad []float64
		} `json:"bce_with_logits"`
	}
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}
	same := func(what string, got, want, abs float64) {
		if math.Abs(got-want) > abs+1e-4*math.Abs(want) {
			t.Errorf("%s: script %.9g, test constant %.9g", what, got, want)
		}
	}
	ts := ref.TrainingStep
	same("training loss", ts.Loss, trainParityLoss, 2e-6)
	if len(ts.Grads) != len(trainParityGrads) {
		t.Fatalf("script gives %d gradients, the test %d", len(ts.Grads), len(trainParityGrads))
	}
	for i, w := range trainParityGrads {
		g := ts.Grads[i]
		if g[0] != w.name {
			t.Fatalf("gradient %d is %v in the script, %s in the test", i, g[0], w.name)
		}
		same(w.name+" sum", g[1].(float64), w.sum, 2e-6)
		same(w.name+" |sum|", g[2].(float64), w.abs, 2e-6)
		same(w.name+" first", g[3].(float64), w.at0, 2e-6)
	}
	for i := range trainParityRunMean {
		same("running mean", ts.RunningMean[i], trainParityRunMean[i], 1e-6)
		same("running var", ts.RunningVar[i], trainParityRunVar[i], 1e-5)
	}
	same("CE loss", ref.CrossEntropy.Loss, ceTorchLoss, 1e-7)
	for i := range ceTorchGrad {
		same("CE grad", ref.CrossEntropy.Grad[i], ceTorchGrad[i], 1e-7)
	}
	if len(ref.SelfAttention.Out) != len(mhaTorchOut) {
		t.Fatalf("self-attention: script gives %d values, the test %d", len(ref.SelfAttention.Out), len(mhaTorchOut))
	}
	for i := range mhaTorchOut {
		same("self-attention", ref.SelfAttention.Out[i], mhaTorchOut[i], 1e-6) // the test rounds to 6 digits
	}
	same("BCE loss", ref.BCEWithLogits.Loss, bceTorchLoss, 1e-7)
	for i := range bceTorchGrad {
		same("BCE grad", ref.BCEWithLogits.Grad[i], bceTorchGrad[i], 1e-7)
	}
}
