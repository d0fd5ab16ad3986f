package nn

import (
	"fmt"
	"math"
)

// Tensor is a dense float32 array, row-major and contiguous (N, C, D, H, W
// for volumes, W fastest). Views share Data; shape changes are cheap.
type Tensor struct {
	Shape []int
	Data  []float32
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
		return nil, fmt.Errorf("nn: %d values for shape %v (want %d)", len(data), shape, n)
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}, nil
}

// Numel returns the number of elements.
func (t *Tensor) Numel() int { return len(t.Data) }

func numel(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("nn: negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, fmt.Errorf("nn: shape %v overflows", shape)
		}
		n *= d
	}
	return n, nil
}
