package ops

import (
	"fmt"
	"math"

	"github.com/metasurv/metasurv/internal/parallel"
)

// rowsOf checks that a buffer of n floats splits into rows of cols.
func rowsOf(what string, n, cols int) (int, error) {
	if cols <= 0 || n%cols != 0 {
		return 0, fmt.Errorf("ops: %s: %d values do not form rows of %d", what, n, cols)
	}
	return n / cols, nil
}

// forRows runs fn over row ranges, in parallel when rows*cols is large.
func forRows(rows, cols int, fn func(lo, hi int)) {
	if rows*cols < 2*grain || rows < 2 {
		fn(0, rows)
		return
	}
	parallel.ForChunks(rows, max(1, grain/cols), fn)
}

// Softmax sets each row of dst (rows of cols values, the last dimension)
// to exp(x - max) / sum(exp(x - max)), the numerically stable softmax.
func Softmax(dst, x []float32, cols int) error {
	rows, err := rowsOf("softmax", len(dst), cols)
	if err != nil {
		return err
	}
	forRows(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			SoftmaxRow(dst[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols])
		}
	})
	return nil
}

// SoftmaxRow is the softmax of one row, for callers (attention) that own
// their loops. It returns nothing and never fails: dst and x have the same length.
func SoftmaxRow(dst, x []float32) {
	scaleVec(dst, 1/ExpShiftRow(dst, x), dst)
}

// ExpShiftRow sets dst to exp(x - max(x)) and returns its sum: softmax's
// numerators, for callers (attention) that divide by the sum later, once
// a product has made the row shorter.
func ExpShiftRow(dst, x []float32) float32 {
	x = x[:len(dst)]
	return expAffine(dst, x, 1, -maxOf(x))
}

// ExpScaleShiftRow sets dst to exp(scale·x - max(scale·x)) and returns
// its sum: ExpShiftRow of scale·x without writing scale·x first, for
// attention in bfloat16, whose products give Q·Kᵀ unscaled. The last
// len%16 values come from the vector kernel too (run on the row's last
// 16, before dst is written: x may be dst), not from scalar Exp, which
// cost as much as the rest of a 216-key row.
func ExpScaleShiftRow(dst, x []float32, scale float32) float32 {
	x = x[:len(dst)]
	var shift float32
	if scale >= 0 {
		shift = -scale * maxOf(x)
	} else { // max(scale·x) = scale·min(x)
		lo := float32(math.Inf(1))
		for _, v := range x {
			lo = min(lo, v)
		}
		shift = -scale * lo
	}
	n, tail := len(dst), len(dst)%16
	if !vecExp() || n < 16 || tail == 0 {
		return expAffine(dst, x, scale, shift)
	}
	var last [16]float32
	expAffineAVX512(last[:], x[n-16:], scale, shift)
	s := expAffineAVX512(dst[:n-tail], x[:n-tail], scale, shift)
	for i := 16 - tail; i < 16; i++ {
		dst[n-16+i] = last[i]
		s += last[i]
	}
	return s
}

// LogSoftmax sets each row of dst to x - max - log(sum(exp(x - max))).
func LogSoftmax(dst, x []float32, cols int) error {
	rows, err := rowsOf("log-softmax", len(dst), cols)
	if err != nil {
		return err
	}
	forRows(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			x, dst := x[r*cols:(r+1)*cols], dst[r*cols:(r+1)*cols]
			m := maxOf(x)
			var buf [256]float32
			var s float64
			for i := 0; i < len(x); i += len(buf) {
				xs := x[i:min(i+len(buf), len(x))]
				s += float64(expAffine(buf[:len(xs)], xs, 1, -m))
			}
			off := m + float32(math.Log(s))
			for i, v := range x {
				dst[i] = v - off
			}
		}
	})
	return nil
}

// SoftmaxBackward sets dx = y * (dy - sum(dy*y)) per row, from the softmax
// output y.
func SoftmaxBackward(dx, y, dy []float32, cols int) error {
	rows, err := rowsOf("softmax backward", len(dx), cols)
	if err != nil {
		return err
	}
	forRows(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			SoftmaxBackwardRow(dx[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols])
		}
	})
	return nil
}

// SoftmaxBackwardRow is SoftmaxBackward for one row.
func SoftmaxBackwardRow(dx, y, dy []float32) {
	y, dy = y[:len(dx)], dy[:len(dx)]
	var s64 float64
	for i := range dx {
		s64 += float64(dy[i] * y[i])
	}
	s := float32(s64)
	for i := range dx {
		dx[i] = y[i] * (dy[i] - s)
	}
}

// LogSoftmaxBackward sets dx = dy - exp(y) * sum(dy) per row, from the
// log-softmax output y.
func LogSoftmaxBackward(dx, y, dy []float32, cols int) error {
	rows, err := rowsOf("log-softmax backward", len(dx), cols)
	if err != nil {
		return err
	}
	forRows(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			dx, y, dy := dx[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols]
			var s float32
			for _, v := range dy {
				s += v
			}
			for i := range dx {
				dx[i] = dy[i] - Exp(y[i])*s
			}
		}
	})
	return nil
}
