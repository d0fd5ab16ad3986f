package ops

import "fmt"

// reduceShape returns the (outer, mid, inner) products for reducing axis a
// of shape, checking the axis.
func reducedShape(shape []int, axes []int) (out []int, err error) {
	out = append([]int(nil), shape...)
	for _, a := range axes {
		if a < 0 || a >= len(shape) {
			return nil, fmt.Errorf("ops: reduce: axis %d out of range for shape %v", a, shape)
		}
		out[a] = 1
	}
	return out, nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Sum sets dst (shape with every axis in axes reduced to 1, i.e. keepdim)
// to the sum of src (shape) over those axes, accumulating in float64.
func Sum(dst, src []float32, shape, axes []int) error {
	return reduce(dst, src, shape, axes, false)
}

// Mean is Sum divided by the number of reduced elements.
func Mean(dst, src []float32, shape, axes []int) error {
	return reduce(dst, src, shape, axes, true)
}

func reduce(dst, src []float32, shape, axes []int, mean bool) error {
	out, err := reducedShape(shape, axes)
	if err != nil {
		return err
	}
	if len(src) != numel(shape) || len(dst) != numel(out) {
		return fmt.Errorf("ops: reduce: shape %v -> %v needs %d and %d values, got %d and %d",
			shape, out, numel(shape), numel(out), len(src), len(dst))
	}
	acc := make([]float64, len(dst))
	walkBroadcast(shape, out, func(i, o int) { acc[o] += float64(src[i]) })
	div := 1.0
	if mean && len(dst) > 0 {
		div = float64(len(src) / len(dst))
	}
	for o, v := range acc {
		dst[o] = float32(v / div)
	}
	return nil
}

// SumBackward sets dx (shape) to dy (the keepdim reduced shape) broadcast
// back over the reduced axes; MeanBackward also divides by their size.
func SumBackward(dx, dy []float32, shape, axes []int) error {
	return reduceBackward(dx, dy, shape, axes, false)
}

// MeanBackward is the gradient of Mean.
func MeanBackward(dx, dy []float32, shape, axes []int) error {
	return reduceBackward(dx, dy, shape, axes, true)
}

func reduceBackward(dx, dy []float32, shape, axes []int, mean bool) error {
	out, err := reducedShape(shape, axes)
	if err != nil {
		return err
	}
	if len(dx) != numel(shape) || len(dy) != numel(out) {
		return fmt.Errorf("ops: reduce backward: shape %v -> %v needs %d and %d values, got %d and %d",
			shape, out, numel(shape), numel(out), len(dx), len(dy))
	}
	scale := float32(1)
	if mean && len(dy) > 0 {
		scale = 1 / float32(len(dx)/len(dy))
	}
	walkBroadcast(shape, out, func(i, o int) { dx[i] = dy[o] * scale })
	return nil
}

// walkBroadcast visits every index i of a row-major array of shape in
// together with the index o of the keepdim-reduced array of shape out (1
// on reduced axes) that it maps to. Runs of the innermost axis are visited
// without per-element index arithmetic.
func walkBroadcast(in, out []int, visit func(i, o int)) {
	nd := len(in)
	if nd == 0 {
		visit(0, 0)
		return
	}
	ostride := make([]int, nd)
	s := 1
	for a := nd - 1; a >= 0; a-- {
		if out[a] == 1 {
			ostride[a] = 0
		} else {
			ostride[a] = s
		}
		s *= out[a]
	}
	idx := make([]int, nd)
	last := in[nd-1]
	n := numel(in)
	if n == 0 {
		return
	}
	o := 0
	for i := 0; i < n; i += last {
		for j := range last {
			visit(i+j, o+j*ostride[nd-1])
		}
		// advance the multi-index over all but the last axis
		for a := nd - 2; a >= 0; a-- {
			idx[a]++
			o += ostride[a]
			if idx[a] < in[a] {
				break
			}
			o -= ostride[a] * idx[a]
			idx[a] = 0
		}
	}
}
