// Package modelspec builds models from the MONAI constructor strings of
// the fixture manifest (../shared/golden/models/manifest.json) and checks
// them against the fixtures: the code behind examples/modelcheck and the
// parity tests of cnn and vit.
//
// Each model family registers a Builder for its constructor names
// (Register, from an init function); Build parses a constructor string
// with internal/pycall and dispatches on its name.
//
// Hashed fixtures (HashManifest; cnn/testdata/monai/gen.py writes them with
// MONAI) carry no weights: every parameter, buffer and input element is an
// integer hash that numpy and Go turn into the same float32, so full-size
// models (SENet154: 170 M parameters) are checked against MONAI from a few
// kilobytes of outputs, in inference (CheckHashFixture) and training mode
// (CheckHashTraining).
package modelspec

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"encoding/json"
	"github.com/metasurv/metasurv/internal/npy"
	"github.com/metasurv/metasurv/internal/pycall"
	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/nn/checkpoint"
	"path/filepath"
)

// ErrUnknownConstructor is returned for a constructor name nobody registered.
var ErrUnknownConstructor = errors.New("modelspec: unknown constructor")

// Model is a model built from a constructor string.
type Model struct {
	// Module's state dict must equal the fixture's .pt exactly.
	Module nn.Module
	// Outputs runs x (evaluation mode, no gradients) and returns the
	// tensors named as the manifest's outputs ("logits", "hidden_last",
	// "recon", "features", ...).
	Outputs func(g *nn.Graph, x *nn.Tensor) map[string]*nn.Tensor
}

// Builder builds the model a parsed constructor call describes; argument
// errors should come from pycall.Args.Err (one error naming every problem).
type Builder func(c *pycall.Call) (*Model, error)

var (
	mu       sync.RWMutex
	builders = map[string]Builder{}
)

// Register makes Build dispatch constructor name to b. It panics when the
// name is taken (two registrations are a programming error).
func Register(name string, b Builder) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := builders[name]; dup {
		panic("modelspec: constructor " + name + " registered twice")
	}
	builders[name] = b
}

// Constructors lists the registered constructor names, sorted.
func Constructors() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(builders))
	for k := range builders {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Build parses src (a Python call such as "DenseNet121(spatial_dims=3,
// in_channels=4, out_channels=3)") and builds the model it names.
func Build(src string) (*Model, error) {
	c, err := pycall.Parse(src)
	if err != nil {
		return nil, err
	}
	return BuildCall(c)
}

// BuildCall builds the model of a parsed call.
func BuildCall(c *pycall.Call) (*Model, error) {
	mu.RLock()
	b, ok := builders[c.Name]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s (known: %s)", ErrUnknownConstructor, c.Name, strings.Join(Constructors(), ", "))
	}
	m, err := b(c)
	if err != nil {
		return nil, fmt.Errorf("modelspec: %s: %w", c.Name, err)
	}
	return m, nil
}

// Manifest is the part of manifest.json this package reads.
type Manifest struct {
	Tolerance string             `json:"tolerance"`
	Fixtures  map[string]Fixture `json:"fixtures"`
	Keys      map[string]KeySpec `json:"keys"`
}

// Fixture is one entry of "fixtures".
type Fixture struct {
	MONAI      string   `json:"monai"`
	Weights    string   `json:"weights"`
	Input      string   `json:"input"`
	InputShape []int    `json:"input_shape"`
	Outputs    []Output `json:"outputs"`
	Params     int      `json:"params"`
}

// Output is one expected output of a fixture.
type Output struct {
	Name  string `json:"name"`
	File  string `json:"file"`
	Shape []int  `json:"shape"`
	// TolRel, when larger, replaces the manifest's relative tolerance for
	// this output (training fixtures: outputs whose float32 value is
	// itself only good to TolRel/4, see cnn/testdata/monai/gen.py).
	TolRel float64 `json:"tol_rel,omitempty"`
}

// KeySpec is one entry of "keys": a full-size model's state-dict names and
// shapes, in order.
type KeySpec struct {
	MONAI     string
	StateDict []Key
	Params    int
}

// Key is one state-dict entry.
type Key struct {
	Name  string
	Shape []int
}

// UnmarshalJSON keeps the order of the state_dict object.
func (k *KeySpec) UnmarshalJSON(b []byte) error {
	var raw struct {
		MONAI     string          `json:"monai"`
		StateDict json.RawMessage `json:"state_dict"`
		Params    int             `json:"params"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	k.MONAI, k.Params = raw.MONAI, raw.Params
	dec := json.NewDecoder(strings.NewReader(string(raw.StateDict)))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("modelspec: state_dict is not an object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := t.(string)
		var shape []int
		if err := dec.Decode(&shape); err != nil {
			return fmt.Errorf("modelspec: state_dict[%q]: %w", name, err)
		}
		k.StateDict = append(k.StateDict, Key{name, shape})
	}
	return nil
}

// ReadManifest reads manifest.json.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("modelspec: %s: %w", path, err)
	}
	return &m, nil
}

var tolRE = regexp.MustCompile(`<=\s*([0-9.eE+-]+)\s*\*\s*max\(1,\s*max\|torch\|\)`)

// Tolerance returns the relative tolerance of the manifest's rule
// "max |go - torch| <= R * max(1, max|torch|)".
func (m *Manifest) ToleranceFactor() (float64, error) { return toleranceFactor(m.Tolerance) }

func toleranceFactor(rule string) (float64, error) {
	sub := tolRE.FindStringSubmatch(rule)
	if sub == nil {
		return 0, fmt.Errorf("modelspec: tolerance rule %q not understood", rule)
	}
	return strconv.ParseFloat(sub[1], 64)
}

// OutputResult is the comparison of one output.
type OutputResult struct {
	MaxAbsErr float64 `json:"max_abs_err"`
	Tol       float64 `json:"tol"`
	OK        bool    `json:"ok"`
}

// Result is the check of one fixture.
type Result struct {
	Fixture string                  `json:"fixture"`
	MONAI   string                  `json:"monai"`
	Outputs map[string]OutputResult `json:"outputs,omitempty"`
	OK      bool                    `json:"ok"`
	Error   string                  `json:"error,omitempty"`
}

// CheckFixture builds the fixture's model from its constructor string,
// loads its weights strictly, runs its input and compares every output
// with the manifest's tolerance. Problems of the fixture (a model that
// fails to build or load, a missing output) are returned as errors.
func CheckFixture(m *Manifest, dir, name string) (Result, error) {
	res := Result{Fixture: name}
	f, ok := m.Fixtures[name]
	if !ok {
		return res, fmt.Errorf("modelspec: no fixture %q in the manifest", name)
	}
	res.MONAI = f.MONAI
	rel, err := m.ToleranceFactor()
	if err != nil {
		return res, err
	}
	model, err := Build(f.MONAI)
	if err != nil {
		return res, err
	}
	// The fixtures are a few MB: reading them needs no cancellation.
	ck, err := checkpoint.Load(context.Background(), filepath.Join(dir, f.Weights), checkpoint.Options{})
	if err != nil {
		return res, fmt.Errorf("modelspec: %s: %w", name, err)
	}
	if _, err := nn.LoadStateDict(model.Module, ck.Tensors, nn.LoadOptions{Strict: true}); err != nil {
		return res, fmt.Errorf("modelspec: %s: %w", name, err)
	}
	nn.SetTraining(model.Module, false)
	in, err := readTensor(filepath.Join(dir, f.Input))
	if err != nil {
		return res, fmt.Errorf("modelspec: %s: %w", name, err)
	}
	return runAndCompare(res, model, in, f.Outputs, dir, rel)
}

// runAndCompare runs in through model (evaluation, no gradients) and
// compares its outputs.
func runAndCompare(res Result, model *Model, in *nn.Tensor, outputs []Output, dir string, rel float64) (Result, error) {
	g := nn.NewGraph(nn.Options{})
	outs := model.Outputs(g, in)
	if err := g.Err(); err != nil {
		return res, fmt.Errorf("modelspec: %s: forward: %w", res.Fixture, err)
	}
	return compareOutputs(res, outs, outputs, dir, rel)
}

// compareOutputs compares each output with its .npy file in dir:
// max |go - torch| <= rel * max(1, max|torch|).
func compareOutputs(res Result, outs map[string]*nn.Tensor, outputs []Output, dir string, rel float64) (Result, error) {
	name := res.Fixture
	res.Outputs = map[string]OutputResult{}
	res.OK = true
	for _, o := range outputs {
		got, ok := outs[o.Name]
		if !ok {
			return res, fmt.Errorf("modelspec: %s: the model gives no output %q", name, o.Name)
		}
		want, err := readTensor(filepath.Join(dir, o.File))
		if err != nil {
			return res, fmt.Errorf("modelspec: %s: %w", name, err)
		}
		if !nn.SameShape(got.Shape, want.Shape) {
			return res, fmt.Errorf("modelspec: %s: output %s has shape %v, want %v", name, o.Name, got.Shape, want.Shape)
		}
		var maxErr, maxRef float64
		for i, w := range want.Data {
			maxRef = math.Max(maxRef, math.Abs(float64(w)))
			d := math.Abs(float64(got.Data[i]) - float64(w))
			if !(d <= maxErr) { // NaN counts as the largest error
				maxErr = d
				if math.IsNaN(d) {
					maxErr = math.Inf(1)
				}
			}
		}
		tol := math.Max(rel, o.TolRel) * math.Max(1, maxRef)
		r := OutputResult{MaxAbsErr: maxErr, Tol: tol, OK: maxErr <= tol}
		res.Outputs[o.Name] = r
		res.OK = res.OK && r.OK
	}
	return res, nil
}

// CheckAll checks every fixture (sorted by name); a fixture that cannot be
// checked is reported in its Result's Error and counts as failed.
func CheckAll(m *Manifest, dir string) []Result {
	names := slices.Sorted(maps.Keys(m.Fixtures))
	var out []Result
	for _, n := range names {
		r, err := CheckFixture(m, dir, n)
		if err != nil {
			r.OK = false
			r.Error = err.Error()
		}
		out = append(out, r)
	}
	return out
}

// CheckKeys builds the constructor of a "keys" entry and compares its
// state-dict names, order and shapes with the manifest; it returns one
// error naming every difference.
func CheckKeys(spec KeySpec) error {
	model, err := Build(spec.MONAI)
	if err != nil {
		return err
	}
	return compareKeys(model.Module, spec)
}

// compareKeys compares m's state dict with spec (names, order, shapes and
// the parameter count); one error names every difference.
func compareKeys(m nn.Module, spec KeySpec) error {
	var got []Key
	nn.Walk(m, func(name string, t *nn.Tensor, _ bool) {
		got = append(got, Key{name, append([]int(nil), t.Shape...)})
	})
	want := map[string][]int{}
	for _, k := range spec.StateDict {
		want[k.Name] = k.Shape
	}
	have := map[string][]int{}
	for _, k := range got {
		have[k.Name] = k.Shape
	}
	var probs []string
	params := 0
	for _, k := range got {
		w, ok := want[k.Name]
		switch {
		case !ok:
			probs = append(probs, "unexpected "+k.Name)
		case !nn.SameShape(w, k.Shape):
			probs = append(probs, fmt.Sprintf("%s: shape %v, want %v", k.Name, k.Shape, w))
		}
	}
	for _, k := range spec.StateDict {
		if _, ok := have[k.Name]; !ok {
			probs = append(probs, "missing "+k.Name)
		}
	}
	if len(probs) == 0 {
		for i := range got {
			if got[i].Name != spec.StateDict[i].Name {
				probs = append(probs, fmt.Sprintf("order: entry %d is %s, want %s", i, got[i].Name, spec.StateDict[i].Name))
				break
			}
		}
	}
	for _, p := range nn.NamedParameters(m) {
		params += p.Tensor.Numel()
	}
	if spec.Params > 0 && params != spec.Params {
		probs = append(probs, fmt.Sprintf("%d parameters, want %d", params, spec.Params))
	}
	if len(probs) > 0 {
		return fmt.Errorf("modelspec: %s: state dict differs: %s", spec.MONAI, strings.Join(probs, "; "))
	}
	return nil
}

func readTensor(path string) (*nn.Tensor, error) {
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, err
	}
	data, err := a.Float32()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return nn.FromData(data, a.Shape...)
}
