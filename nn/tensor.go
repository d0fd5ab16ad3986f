package nn

import (
	"fmt"
	"math"
	"slices"

	"github.com/metasurv/metasurv/internal/gemm"
)

// Tensor is a dense float32 array, row-major and contiguous (N, C, D, H, W
// for volumes, W fastest). Views share Data; shape changes are cheap.
//
// A Tensor also carries its autograd state: whether it is a trainable leaf
// (RequiresGrad), the gradient accumulated by Graph.Backward, and the
// recorded operation that produced it (if any).
type Tensor struct {
	Shape []int
	Data  []float32

	reqGrad bool    // leaf that wants a gradient (parameters)
	grad    *Tensor // gradient buffer, same shape as the tensor
	gradOK  bool    // grad holds a value; false after ZeroGrad (next write overwrites)
	node    *node   // recording of the op that produced this tensor
	version uint64  // bumped by every library write: invalidates packed copies of Data

	bf *gemm.PackedBF16 // the values, when held in bfloat16 only (ConvertBF16; Data nil)
}

// bump records that Data was written in place (packs.go).
func (t *Tensor) bump() { t.version++ }

// CopyFrom copies src into t's values; src must have t's number of
// elements. Layers that keep packed copies of a weight (convolution plans,
// bfloat16 packs) repack it on their next use, as after every write made
// through this package, LoadStateDict, the Init functions or nn/optim. A
// weight converted by ConvertBF16 stores src rounded to bfloat16.
func (t *Tensor) CopyFrom(src []float32) error {
	if n := t.Numel(); len(src) != n {
		return fmt.Errorf("%w: CopyFrom of %d values into a tensor of shape %v (%d values)", ErrShape, len(src), t.Shape, n)
	}
	if t.bf != nil {
		t.setBF16(src)
		return nil
	}
	copy(t.Data, src)
	t.bump()
	return nil
}

// Update calls fn with t's values to modify them in place, then marks them
// changed (see CopyFrom about packed copies): the way to edit a
// parameter's values, e.g. an optimizer step or pruning. Writing Data
// directly also works for layers' packs when the write changes the
// tensor broadly (they compare a sampled fingerprint), but a sparse edit
// of a few values is only guaranteed to be seen through Update. On a
// weight converted by ConvertBF16, fn receives a float32 copy of the
// bfloat16 values, rounded back to bfloat16 afterwards.
func (t *Tensor) Update(fn func(data []float32)) {
	if t.bf != nil {
		t.updateBF16(fn)
		return
	}
	fn(t.Data)
	t.bump()
}

// NewTensor returns a zero tensor of the given shape.
func NewTensor(shape ...int) *Tensor {
	n, err := numel(shape)
	if err != nil {
		panic(err) // programmer error: use FromData for untrusted shapes
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// FromData wraps data (not copied) with the given shape, checking that the
// sizes agree.
func FromData(data []float32, shape ...int) (*Tensor, error) {
	n, err := numel(shape)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, fmt.Errorf("%w: %d values for shape %v (want %d)", ErrShape, len(data), shape, n)
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}, nil
}

// Scalar returns a one-element tensor of shape [] holding v.
func Scalar(v float32) *Tensor { return &Tensor{Shape: []int{}, Data: []float32{v}} }

// Numel returns the number of elements.
func (t *Tensor) Numel() int {
	if t.bf != nil {
		n, _ := numel(t.Shape)
		return n
	}
	return len(t.Data)
}

// Dim returns the number of dimensions.
func (t *Tensor) Dim() int { return len(t.Shape) }

// Item returns the single value of a one-element tensor (NaN otherwise), the
// usual way to read a loss.
func (t *Tensor) Item() float32 {
	if len(t.Data) != 1 {
		return float32(math.NaN())
	}
	return t.Data[0]
}

// Clone returns a deep copy of the values and shape, without autograd
// state (of a converted weight: a float32 tensor of its bfloat16 values).
func (t *Tensor) Clone() *Tensor {
	if t.bf != nil {
		return &Tensor{Shape: append([]int(nil), t.Shape...), Data: t.Values()}
	}
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// View returns a tensor sharing t's data with another shape of the same
// size. One dimension may be -1 and is inferred. View carries no autograd
// history: use Graph.Reshape inside a differentiable computation.
func (t *Tensor) View(shape ...int) (*Tensor, error) {
	if t.bf != nil {
		return nil, fmt.Errorf("%w: View of a weight of shape %v held in bfloat16 only (Clone gives a float32 copy)", ErrBF16, t.Shape)
	}
	s, err := inferShape(len(t.Data), shape)
	if err != nil {
		return nil, err
	}
	return &Tensor{Shape: s, Data: t.Data}, nil
}

// RequiresGrad reports whether t is a leaf that receives a gradient.
func (t *Tensor) RequiresGrad() bool { return t.reqGrad }

// SetRequiresGrad marks t as a trainable leaf (true) or frozen (false) and
// returns t. Frozen parameters receive no gradient and cost no backward work.
func (t *Tensor) SetRequiresGrad(on bool) *Tensor {
	t.reqGrad = on
	return t
}

// Grad returns the gradient accumulated by the last Backward calls, or nil
// when none has been computed since creation or ZeroGrad.
func (t *Tensor) Grad() *Tensor {
	if !t.gradOK {
		return nil
	}
	return t.grad
}

// ZeroGrad forgets the accumulated gradient. The buffer is kept, and the
// next Backward overwrites it instead of adding (no memset needed).
func (t *Tensor) ZeroGrad() { t.gradOK = false }

// SetGrad replaces the gradient (used by optimizers' helpers and custom
// training loops, e.g. to scale gradients). A nil g clears it.
func (t *Tensor) SetGrad(g *Tensor) {
	t.grad = g
	t.gradOK = g != nil
}

// needsGrad reports whether a gradient must flow into t.
func (t *Tensor) needsGrad() bool { return t.reqGrad || t.node != nil }

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Filled reports whether t's Data holds exactly the values its Shape
// says, with no negative or overflowing dimension. A tensor from NewTensor
// or an operation always does; one assembled by hand (a struct literal, a
// reshaped Data) may not, and models check their inputs with it. A
// converted bfloat16 weight (ConvertBF16) has no Data and is not filled.
func (t *Tensor) Filled() bool {
	n, err := numel(t.Shape)
	return err == nil && n == len(t.Data)
}

func numel(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: negative dimension in shape %v", ErrShape, shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, fmt.Errorf("%w: shape %v overflows", ErrShape, shape)
		}
		n *= d
	}
	return n, nil
}

// inferShape resolves one -1 entry so that the shape holds n elements.
func inferShape(n int, shape []int) ([]int, error) {
	return inferShapeInto(nil, n, shape)
}

// inferShapeInto is inferShape writing into buf (appended from length 0).
func inferShapeInto(buf []int, n int, shape []int) ([]int, error) {
	s := append(buf[:0], shape...)
	inf, prod := -1, 1
	for i, d := range s {
		switch {
		case d == -1 && inf < 0:
			inf = i
		case d < 0:
			return nil, fmt.Errorf("%w: bad dimension %d in shape %v", ErrShape, d, slices.Clone(shape))
		default:
			prod *= d
		}
	}
	if inf >= 0 {
		if prod == 0 || n%prod != 0 {
			return nil, fmt.Errorf("%w: cannot infer -1 in shape %v for %d elements", ErrShape, slices.Clone(shape), n)
		}
		s[inf] = n / prod
		prod *= s[inf]
	}
	if prod != n {
		return nil, fmt.Errorf("%w: shape %v holds %d elements, tensor has %d", ErrShape, slices.Clone(shape), prod, n)
	}
	return s, nil
}
