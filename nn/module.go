package nn

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Module is a layer or network: a forward function plus named state.
// Names follow PyTorch/MONAI (weight, bias, running_mean, children "0",
// "1", ... in Sequential) so state dicts map 1:1 to torch's.
type Module interface {
	// Forward applies the module to x within graph g.
	Forward(g *Graph, x *Tensor) *Tensor
	// Visit declares the module's parameters, buffers and children.
	Visit(v *Visitor)
}

// Trainer is implemented by modules whose behaviour differs between
// training and evaluation (BatchNorm, Dropout).
type Trainer interface {
	SetTraining(on bool)
}

// Visitor walks a module tree; modules call its methods from Visit.
type Visitor struct {
	prefix   string
	onTensor func(name string, t *Tensor, buffer bool)
	onModule func(name string, m Module)
}

// Param declares a learnable parameter (nil is skipped: an absent bias).
func (v *Visitor) Param(name string, t *Tensor) {
	if t != nil && v.onTensor != nil {
		v.onTensor(v.prefix+name, t, false)
	}
}

// Buffer declares persistent non-learnable state (running statistics).
func (v *Visitor) Buffer(name string, t *Tensor) {
	if t != nil && v.onTensor != nil {
		v.onTensor(v.prefix+name, t, true)
	}
}

// Child declares a submodule under name (nil is skipped).
func (v *Visitor) Child(name string, m Module) {
	if m == nil {
		return
	}
	if rv := reflect.ValueOf(m); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return // typed nil: an optional submodule that is absent
	}
	sub := &Visitor{prefix: v.prefix + name + ".", onTensor: v.onTensor, onModule: v.onModule}
	if v.onModule != nil {
		v.onModule(v.prefix+name, m)
	}
	m.Visit(sub)
}

// Walk calls fn for every parameter and buffer of m with its dotted name.
func Walk(m Module, fn func(name string, t *Tensor, buffer bool)) {
	m.Visit(&Visitor{onTensor: fn})
}

// WalkModules calls fn for m (name "") and every submodule.
func WalkModules(m Module, fn func(name string, m Module)) {
	fn("", m)
	m.Visit(&Visitor{onModule: fn})
}

// Named is a tensor with its state-dict name.
type Named struct {
	Name   string
	Tensor *Tensor
}

// NamedParameters lists m's parameters in declaration order.
func NamedParameters(m Module) []Named {
	var out []Named
	Walk(m, func(name string, t *Tensor, buffer bool) {
		if !buffer {
			out = append(out, Named{name, t})
		}
	})
	return out
}

// Parameters lists the parameters that require gradients (what an optimizer
// updates); frozen ones are left out.
func Parameters(m Module) []*Tensor {
	var out []*Tensor
	for _, p := range NamedParameters(m) {
		if p.Tensor.RequiresGrad() {
			out = append(out, p.Tensor)
		}
	}
	return out
}

// SetTraining switches m and all submodules to training (true) or
// evaluation mode, like torch's module.train()/eval().
func SetTraining(m Module, on bool) {
	WalkModules(m, func(_ string, s Module) {
		if t, ok := s.(Trainer); ok {
			t.SetTraining(on)
		}
	})
}

// Freeze stops gradient computation for every parameter of m (a frozen
// encoder); Unfreeze turns it back on.
func Freeze(m Module) { setReq(m, false) }

// Unfreeze makes every parameter of m trainable again.
func Unfreeze(m Module) { setReq(m, true) }

func setReq(m Module, on bool) {
	for _, p := range NamedParameters(m) {
		p.Tensor.SetRequiresGrad(on)
	}
}

// ZeroGrad forgets the gradients of all parameters of m.
func ZeroGrad(m Module) {
	for _, p := range NamedParameters(m) {
		p.Tensor.ZeroGrad()
	}
}

// StateDict returns m's parameters and buffers by name. The tensors share
// m's memory; Clone them to snapshot. Weights converted by ConvertBF16
// appear as new float32 tensors holding their bfloat16 values exactly.
func StateDict(m Module) map[string]*Tensor {
	sd := map[string]*Tensor{}
	Walk(m, func(name string, t *Tensor, _ bool) {
		if t.bf != nil {
			t = t.Clone()
		}
		sd[name] = t
	})
	return sd
}

// LoadOptions configures LoadStateDict.
type LoadOptions struct {
	// Strict fails when keys are missing or unexpected (torch's strict=True).
	// Shape mismatches always fail unless SkipMismatched is set.
	Strict bool
	// StripPrefix is removed from every key that starts with it, e.g.
	// "module." from DataParallel checkpoints.
	StripPrefix string
	// SkipMismatched leaves parameters whose shapes differ untouched and
	// reports them instead of failing (swapping a classifier head).
	SkipMismatched bool
}

// LoadReport lists what did not match between a state dict and a module.
type LoadReport struct {
	Missing    []string // in the module, not in the state dict
	Unexpected []string // in the state dict, not in the module
	Mismatched []string // present in both with different shapes ("name: got [..], want [..]")
	Loaded     int      // tensors copied
}

// LoadError is returned when loading fails; it carries the full report.
type LoadError struct{ Report LoadReport }

// Error lists every missing key, unexpected key and shape mismatch.
func (e *LoadError) Error() string {
	var parts []string
	r := e.Report
	if len(r.Missing) > 0 {
		parts = append(parts, "missing keys: "+strings.Join(r.Missing, ", "))
	}
	if len(r.Unexpected) > 0 {
		parts = append(parts, "unexpected keys: "+strings.Join(r.Unexpected, ", "))
	}
	if len(r.Mismatched) > 0 {
		parts = append(parts, "shape mismatches: "+strings.Join(r.Mismatched, "; "))
	}
	return ErrStateDict.Error() + ": " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrStateDict) hold.
func (e *LoadError) Unwrap() error { return ErrStateDict }

// LoadStateDict copies sd into m's parameters and buffers, like torch's
// load_state_dict. Weights converted by ConvertBF16 stay converted: the
// loaded values are rounded to bfloat16. In strict mode any missing or
// unexpected key fails;
// shape mismatches fail unless SkipMismatched. Nothing is copied when it
// fails. The report is returned either way (non-strict transfer learning
// inspects it).
func LoadStateDict(m Module, sd map[string]*Tensor, o LoadOptions) (LoadReport, error) {
	src := make(map[string]*Tensor, len(sd))
	for k, t := range sd {
		if o.StripPrefix != "" {
			k = strings.TrimPrefix(k, o.StripPrefix)
		}
		src[k] = t
	}
	var rep LoadReport
	type pair struct{ dst, src *Tensor }
	var todo []pair
	seen := map[string]bool{}
	Walk(m, func(name string, t *Tensor, _ bool) {
		seen[name] = true
		s, ok := src[name]
		switch {
		case !ok:
			rep.Missing = append(rep.Missing, name)
		case s.Numel() != t.Numel() || !shapeCompatible(s.Shape, t.Shape):
			rep.Mismatched = append(rep.Mismatched, fmt.Sprintf("%s: got %v, want %v", name, s.Shape, t.Shape))
		default:
			todo = append(todo, pair{t, s})
		}
	})
	for k := range src {
		if !seen[k] {
			rep.Unexpected = append(rep.Unexpected, k)
		}
	}
	sort.Strings(rep.Unexpected)
	fail := (o.Strict && (len(rep.Missing) > 0 || len(rep.Unexpected) > 0)) || (len(rep.Mismatched) > 0 && !o.SkipMismatched)
	if fail {
		return rep, &LoadError{rep}
	}
	for _, p := range todo {
		if err := p.dst.CopyFrom(p.src.Values()); err != nil {
			panic(err) // sizes checked above
		}
	}
	rep.Loaded = len(todo)
	return rep, nil
}

// shapeCompatible accepts equal shapes, and a scalar stored as [] or [1]
// (num_batches_tracked).
func shapeCompatible(a, b []int) bool {
	if SameShape(a, b) {
		return true
	}
	return len(a) <= 1 && len(b) <= 1
}

// Sequential applies its layers in order; children are named "0", "1", ...
// as in torch.nn.Sequential.
type Sequential struct{ Layers []Module }

// NewSequential returns a Sequential of the given layers.
func NewSequential(layers ...Module) *Sequential { return &Sequential{Layers: layers} }

// Forward applies the layers in order.
func (s *Sequential) Forward(g *Graph, x *Tensor) *Tensor {
	for _, l := range s.Layers {
		x = l.Forward(g, x)
	}
	return x
}

// Visit names the layers by index.
func (s *Sequential) Visit(v *Visitor) {
	for i, l := range s.Layers {
		v.Child(strconv.Itoa(i), l)
	}
}
