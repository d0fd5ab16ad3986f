package modelspec

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/metasurv/metasurv/nn"
)

// Hashed fixtures (cnn/testdata/monai) check full-size models against MONAI
// without shipping their weights: the generator (gen.py next to the
// manifest) sets every parameter and buffer from an integer hash of its
// index in state-dict order and the element's index, and stores only the
// outputs. HashInit.Fill sets the same values here, bit for bit: the hash
// is integer arithmetic and each float32 step is one correctly rounded
// operation in numpy and in Go alike.

// HashValue is element i of hashed tensor t, in [-1, 1): splitmix64's
// finaliser of (t<<40 ^ i), its top 24 bits as a fraction.
func HashValue(t, i uint64) float32 {
	z := t<<40 ^ i
	z += 0x9E3779B97F4A7C15
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	z ^= z >> 31
	u := float32(z>>40) * (1.0 / (1 << 24))
	return u*2 - 1 // exact: u has 24 significant bits
}

// HashInit is the scale of each kind of tensor (manifest "init").
type HashInit struct {
	// Gain sets weights of two or more dimensions (convolutions, linear
	// layers) to v*float32(sqrt(Gain/fan_in)).
	Gain float64 `json:"gain"`
	// GammaMean and GammaSpread set one-dimensional weights (batch norm's
	// gamma) to v*GammaSpread + GammaMean.
	GammaMean   float64 `json:"gamma_mean"`
	GammaSpread float64 `json:"gamma_spread"`
	// BiasScale sets biases and running means to v*BiasScale; running
	// variances are v/4 + 1, num_batches_tracked is left alone.
	BiasScale float64 `json:"bias_scale"`
}

// Fill sets every parameter and buffer of m as gen.py does; it fails on a
// tensor no rule covers.
func (h HashInit) Fill(m nn.Module) error {
	var bad []string
	t := uint64(0)
	nn.Walk(m, func(name string, x *nn.Tensor, _ bool) {
		defer func() { t++ }()
		leaf := name[strings.LastIndexByte(name, '.')+1:]
		if leaf == "num_batches_tracked" {
			return
		}
		var scale, offset float32
		switch {
		case len(x.Shape) >= 2:
			fanIn := len(x.Data) / x.Shape[0]
			scale = float32(math.Sqrt(h.Gain / float64(fanIn)))
		case leaf == "weight":
			scale, offset = float32(h.GammaSpread), float32(h.GammaMean)
		case leaf == "bias" || leaf == "running_mean":
			scale = float32(h.BiasScale)
		case leaf == "running_var":
			scale, offset = 0.25, 1
		default:
			bad = append(bad, name)
			return
		}
		for i := range x.Data {
			// The conversion rounds the product before the sum (no fused
			// multiply-add), as numpy does.
			x.Data[i] = float32(HashValue(t, uint64(i))*scale) + offset
		}
	})
	if len(bad) > 0 {
		return fmt.Errorf("modelspec: no hash rule for %s", strings.Join(bad, ", "))
	}
	return nil
}

// HashManifest is cnn/testdata/monai/manifest.json.
type HashManifest struct {
	Generator string                 `json:"generator"`
	Tolerance string                 `json:"tolerance"`
	Fixtures  map[string]HashFixture `json:"fixtures"`
}

// HashFixture is one model of a HashManifest.
type HashFixture struct {
	MONAI      string `json:"monai"`
	InputShape []int  `json:"input_shape"`
	Input      struct {
		// HashTensor is the tensor index the input is hashed with.
		HashTensor uint64 `json:"hash_tensor"`
	} `json:"input"`
	// NoDropout (training fixtures): the generator switched dropout and
	// drop-connect off (they draw from torch's generator); so does
	// CheckHashTraining.
	NoDropout bool `json:"no_dropout"`
	// SeedTensor (training fixtures) hashes the output gradient that
	// starts the backward pass.
	SeedTensor uint64             `json:"seed_tensor"`
	Init       HashInit           `json:"init"`
	Outputs    []Output           `json:"outputs"`
	MaxAbs     map[string]float64 `json:"max_abs"`
	// TorchRounding is torch's own float32 error per output: max |float32 -
	// float64| / max(1, max|float64|) with the same weights. A fixture whose
	// rounding error nears the tolerance proves nothing.
	TorchRounding map[string]float64 `json:"torch_f32_vs_f64"`
	Params        int                `json:"params"`
	// Keys is MONAI's state dict (names in order, shapes) and parameter
	// count.
	Keys KeySpec `json:"-"`
}

// UnmarshalJSON reads the fixture and its ordered state dict.
func (f *HashFixture) UnmarshalJSON(b []byte) error {
	type plain HashFixture
	if err := json.Unmarshal(b, (*plain)(f)); err != nil {
		return err
	}
	return json.Unmarshal(b, &f.Keys)
}

// ReadHashManifest reads a hashed-fixture manifest.
func ReadHashManifest(path string) (*HashManifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m HashManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("modelspec: %s: %w", path, err)
	}
	return &m, nil
}

// maxHashInput bounds a hashed input's number of values.
const maxHashInput = 1 << 28

// InputTensor returns the fixture's hashed input.
func (f *HashFixture) InputTensor() (*nn.Tensor, error) {
	// Each extent is bounded before the product is taken, so the product
	// cannot overflow; the total bounds the allocation (1 GiB of float32)
	// for a manifest that did not come from gen.py.
	n := 1
	for _, d := range f.InputShape {
		if d < 1 || d > 1<<12 {
			return nil, fmt.Errorf("modelspec: input shape %v (want extents in 1..4096)", f.InputShape)
		}
		if n *= d; n > maxHashInput {
			return nil, fmt.Errorf("modelspec: input shape %v exceeds %d values", f.InputShape, maxHashInput)
		}
	}
	if len(f.InputShape) == 0 {
		return nil, fmt.Errorf("modelspec: empty input shape")
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = HashValue(f.Input.HashTensor, uint64(i))
	}
	return nn.FromData(data, f.InputShape...)
}

// Build builds the fixture's model from its constructor string, checks
// that its state dict has MONAI's names, order and shapes, and fills it
// with the hashed values (evaluation mode).
func (f *HashFixture) Build() (*Model, error) {
	model, err := Build(f.MONAI)
	if err != nil {
		return nil, err
	}
	f.Keys.MONAI = f.MONAI
	if err := compareKeys(model.Module, f.Keys); err != nil {
		return nil, err
	}
	if err := f.Init.Fill(model.Module); err != nil {
		return nil, err
	}
	nn.SetTraining(model.Module, false)
	return model, nil
}

// WellConditioned reports whether output out is a meaningful test: torch's
// own float32 rounding error (TorchRounding, relative to max(1, max|out|))
// must be recorded and stay below a tenth of the tolerance tol, so that a
// result within tol cannot be a matter of luck.
func (f HashFixture) WellConditioned(out string, tol float64) error {
	rr, ok := f.TorchRounding[out]
	if !ok {
		return fmt.Errorf("modelspec: %s: torch's float32 rounding error not recorded", out)
	}
	if limit := tol / math.Max(1, f.MaxAbs[out]) / 10; rr > limit {
		return fmt.Errorf("modelspec: %s: torch's float32 rounding error %g is not well below the tolerance (limit %g)", out, rr, limit)
	}
	return nil
}

// Compare runs the fixture's input through model and compares every output
// with the stored one within the manifest's tolerance.
func (m *HashManifest) Compare(dir, name string, model *Model) (Result, error) {
	res, f, rel, in, err := m.fixtureInput(name)
	if err != nil {
		return res, err
	}
	return runAndCompare(res, model, in, f.Outputs, dir, rel)
}

// fixtureInput looks up a fixture and returns its result skeleton, the
// manifest's relative tolerance and the hashed input.
func (m *HashManifest) fixtureInput(name string) (Result, HashFixture, float64, *nn.Tensor, error) {
	res := Result{Fixture: name}
	f, ok := m.Fixtures[name]
	if !ok {
		return res, f, 0, nil, fmt.Errorf("modelspec: no fixture %q in the manifest", name)
	}
	res.MONAI = f.MONAI
	rel, err := toleranceFactor(m.Tolerance)
	if err != nil {
		return res, f, 0, nil, err
	}
	in, err := f.InputTensor()
	return res, f, rel, in, err
}

// CheckHashFixture builds, fills and runs a hashed fixture and compares its
// outputs (see HashFixture.Build and HashManifest.Compare).
func CheckHashFixture(m *HashManifest, dir, name string) (Result, error) {
	f, ok := m.Fixtures[name]
	if !ok {
		return Result{Fixture: name}, fmt.Errorf("modelspec: no fixture %q in the manifest", name)
	}
	model, err := f.Build()
	if err != nil {
		return Result{Fixture: name, MONAI: f.MONAI}, fmt.Errorf("modelspec: %s: %w", name, err)
	}
	return m.Compare(dir, name, model)
}

// CheckHashTraining runs a training fixture (cnn/testdata/monai/train):
// the model in training mode (batch statistics, running statistics
// updated), one forward pass and a backward pass seeded with hashed
// output gradients, then compares the outputs the manifest names:
// "logits", "grad:P" (parameter P's gradient), "grad2:P" (the gradient
// of P's first two rows, a convolution's first two filters) and
// "buffer:B" (B after the pass).
func CheckHashTraining(m *HashManifest, dir, name string) (Result, error) {
	res, f, rel, in, err := m.fixtureInput(name)
	if err != nil {
		return res, err
	}
	model, err := f.Build()
	if err != nil {
		return res, fmt.Errorf("modelspec: %s: %w", name, err)
	}
	nn.SetTraining(model.Module, true)
	if f.NoDropout {
		if err := noDropout(model.Module); err != nil {
			return res, fmt.Errorf("modelspec: %s: %w", name, err)
		}
	}
	g := nn.NewGraph(nn.Options{Grad: true})
	out := model.Module.Forward(g, in)
	if err := g.Err(); err != nil {
		return res, fmt.Errorf("modelspec: %s: forward: %w", name, err)
	}
	seed := make([]float32, len(out.Data))
	for i := range seed {
		seed[i] = HashValue(f.SeedTensor, uint64(i))
	}
	if err := g.BackwardWith(out, seed); err != nil {
		return res, fmt.Errorf("modelspec: %s: backward: %w", name, err)
	}
	tensors := map[string]*nn.Tensor{}
	nn.Walk(model.Module, func(n string, t *nn.Tensor, _ bool) { tensors[n] = t })
	outs := map[string]*nn.Tensor{"logits": out}
	for _, o := range f.Outputs {
		kind, tn, _ := strings.Cut(o.Name, ":")
		t := tensors[tn]
		if kind == "logits" || t == nil {
			continue // compareOutputs names what is missing
		}
		switch kind {
		case "buffer":
			outs[o.Name] = t
		case "grad", "grad2":
			gr := t.Grad()
			if gr == nil {
				return res, fmt.Errorf("modelspec: %s: %s has no gradient", name, tn)
			}
			if kind == "grad2" {
				if len(gr.Shape) < 2 || gr.Shape[0] < 2 {
					return res, fmt.Errorf("modelspec: %s: %s: shape %v has no two rows", name, tn, gr.Shape)
				}
				shape := append([]int{2}, gr.Shape[1:]...)
				gr, err = nn.FromData(gr.Data[:2*len(gr.Data)/gr.Shape[0]], shape...)
				if err != nil {
					return res, err
				}
			}
			outs[o.Name] = gr
		}
	}
	return compareOutputs(res, outs, f.Outputs, dir, rel)
}

// IsHashed reports whether m is a hashed-fixture manifest: every fixture
// has hash scales (a weights-file manifest has none).
func (m *HashManifest) IsHashed() bool {
	for _, f := range m.Fixtures {
		if !(f.Init.Gain > 0) {
			return false
		}
	}
	return len(m.Fixtures) > 0
}

// CheckHash checks one hashed fixture: CheckHashTraining when it has an
// output-gradient seed, CheckHashFixture otherwise.
func CheckHash(m *HashManifest, dir, name string) (Result, error) {
	if f, ok := m.Fixtures[name]; ok && f.SeedTensor != 0 {
		return CheckHashTraining(m, dir, name)
	}
	return CheckHashFixture(m, dir, name)
}
