package modelspec

import (
	"math"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/nn"
)

// HashValue covers [-1, 1) evenly, and distinct tensors get distinct values.
func TestHashValue(t *testing.T) {
	const n = 1 << 16
	var sum, sq float64
	same := 0
	for i := range uint64(n) {
		v := HashValue(3, i)
		if !(v >= -1 && v < 1) {
			t.Fatalf("HashValue(3, %d) = %g, outside [-1, 1)", i, v)
		}
		sum += float64(v)
		sq += float64(v) * float64(v)
		if HashValue(4, i) == v {
			same++
		}
	}
	if mean, varc := sum/n, sq/n; math.Abs(mean) > 0.01 || math.Abs(varc-1.0/3) > 0.01 {
		t.Errorf("mean %g, second moment %g: want 0 and 1/3", mean, varc)
	}
	if same > 10 {
		t.Errorf("tensors 3 and 4 agree on %d of %d elements", same, n)
	}
}

// Fill applies the rule of each tensor kind, in state-dict order, and
// leaves num_batches_tracked alone.
func TestHashInitFill(t *testing.T) {
	lin := nn.NewLinear(6, 4, nn.LinearOptions{}, nn.NewRNG(1))
	bn := nn.NewBatchNorm3d(4)
	bn.NumBatchesTracked.Data[0] = 7
	m := &nn.Sequential{Layers: []nn.Module{lin, bn}}
	h := HashInit{Gain: 2, GammaMean: 1.5, GammaSpread: 0.25, BiasScale: 0.02}
	if err := h.Fill(m); err != nil {
		t.Fatal(err)
	}
	scale := float32(math.Sqrt(2.0 / 6))
	for i, v := range lin.Weight.Data {
		if want := HashValue(0, uint64(i)) * scale; v != want {
			t.Fatalf("weight[%d] = %g, want %g", i, v, want)
		}
	}
	check := func(name string, x *nn.Tensor, t0 uint64, lo, hi float32) {
		for i, v := range x.Data {
			if v < lo || v >= hi {
				t.Errorf("%s[%d] = %g outside [%g, %g)", name, i, v, lo, hi)
			}
			if t0 > 0 && i == 0 && v == HashValue(t0-1, 0) {
				t.Errorf("%s reuses the previous tensor's hash", name)
			}
		}
	}
	check("linear bias", lin.Bias, 0, -0.02, 0.02)
	check("gamma", bn.Weight, 0, 1.25, 1.75)
	check("beta", bn.Bias, 0, -0.02, 0.02)
	check("running_mean", bn.RunningMean, 0, -0.02, 0.02)
	check("running_var", bn.RunningVar, 0, 0.75, 1.25)
	if bn.NumBatchesTracked.Data[0] != 7 {
		t.Errorf("num_batches_tracked changed to %g", bn.NumBatchesTracked.Data[0])
	}
	// A tensor kind without a rule is an error naming it.
	odd := &nn.Sequential{Layers: []nn.Module{oddModule{nn.NewTensor(3)}}}
	if err := h.Fill(odd); err == nil || !strings.Contains(err.Error(), "0.scale") {
		t.Errorf("got %v, want an error naming 0.scale", err)
	}
}

type oddModule struct{ s *nn.Tensor }

func (o oddModule) Forward(g *nn.Graph, x *nn.Tensor) *nn.Tensor { return x }
func (o oddModule) Visit(v *nn.Visitor)                          { v.Param("scale", o.s) }

// WellConditioned accepts rounding below a tenth of the tolerance (relative
// to max(1, max|out|)) and refuses it above, or unrecorded.
func TestWellConditioned(t *testing.T) {
	f := HashFixture{MaxAbs: map[string]float64{"logits": 20}, TorchRounding: map[string]float64{"logits": 4e-6}}
	if err := f.WellConditioned("logits", 1e-3); err != nil { // limit 5e-6
		t.Errorf("4e-6 under a limit of 5e-6: %v", err)
	}
	if err := f.WellConditioned("logits", 5e-4); err == nil { // limit 2.5e-6
		t.Error("4e-6 over a limit of 2.5e-6 accepted")
	}
	if err := f.WellConditioned("embed", 1); err == nil {
		t.Error("unrecorded output accepted")
	}
}

// Absurd or empty input shapes in a manifest are errors, not allocations.
func TestInputTensorRefusesAbsurdShapes(t *testing.T) {
	for _, shape := range [][]int{nil, {0, 4}, {-1}, {4097}, {4096, 4096, 4096, 4096, 4096}, {2, 4096, 4096, 4096}} {
		f := HashFixture{InputShape: shape}
		if _, err := f.InputTensor(); err == nil {
			t.Errorf("shape %v accepted", shape)
		}
	}
	f := HashFixture{InputShape: []int{2, 3, 4}}
	if x, err := f.InputTensor(); err != nil || len(x.Data) != 24 {
		t.Errorf("shape [2 3 4]: %v", err)
	}
}
