package nn

import "math"

// Batch-norm and ReLU kernels. Each has a portable Go version, which is
// the reference, and AVX-512/AVX2 versions (bn_amd64.s) that compute the
// same bits: elementwise kernels round every operation as the Go code does
// (explicit float32 conversions keep Go from fusing multiply-adds), and
// reductions use one canonical order at every level — blocks of sumBlock
// values, element i of a block summed into lane i mod 16, the 16 lanes
// folded pairwise (l+8, l+4, l+2, l+1), block totals added in float64.

// sumBlock is the reduction block: float32 partial sums over it are
// accurate, float64 across blocks keeps large planes accurate.
const sumBlock = 256

// blockSum returns Σ v, or Σ (v-shift)² when sq, in the canonical order.
func blockSum(v []float32, shift float32, sq bool) float64 {
	n, total := sumVec(v, shift, sq)
	for v = v[n:]; len(v) > 0; {
		b := v[:min(sumBlock, len(v))]
		v = v[len(b):]
		total += float64(sumBlockGo(b, shift, sq))
	}
	return total
}

// sumBlockGo sums one block (at most sumBlock values) in lane order.
func sumBlockGo(b []float32, shift float32, sq bool) float32 {
	var acc [16]float32
	if sq {
		for i, x := range b {
			d := x - shift
			acc[i&15] += float32(d * d)
		}
	} else {
		for i, x := range b {
			acc[i&15] += x
		}
	}
	return fold16(&acc)
}

// fold16 adds the 16 lanes pairwise, as the vector kernels do.
func fold16(a *[16]float32) float32 {
	for l := range 8 {
		a[l] += a[l+8]
	}
	for l := range 4 {
		a[l] += a[l+4]
	}
	a[0] += a[2]
	a[1] += a[3]
	return a[0] + a[1]
}

// dotStats returns Σ d and Σ d·(x-mu) in the canonical order, where d is
// dy, or dy masked by y ≠ 0 (a ReLU output) when y is not nil.
func dotStats(dy, x, y []float32, mu float32) (sd, sdx float64) {
	n, sd, sdx := dotVec(dy, x, y, mu)
	for dy, x = dy[n:], x[n:len(dy)]; len(dy) > 0; {
		k := min(sumBlock, len(dy))
		var yb []float32
		if y != nil {
			yb = y[n : n+k]
			n += k
		}
		a, b := dotBlockGo(dy[:k], x[:k], yb, mu)
		sd += float64(a)
		sdx += float64(b)
		dy, x = dy[k:], x[k:]
	}
	return sd, sdx
}

// dotBlockGo is dotStats over one block.
func dotBlockGo(dy, x, y []float32, mu float32) (float32, float32) {
	var a, b [16]float32
	x = x[:len(dy)]
	for i, d := range dy {
		if y != nil {
			d = math.Float32frombits(math.Float32bits(d) & reluMask(y[i]))
		}
		a[i&15] += d
		b[i&15] += float32(d * (x[i] - mu))
	}
	return fold16(&a), fold16(&b)
}

// bnApply computes dst = a·src + b, plus r when not nil, then max(·, 0)
// (NaN-propagating, as Go's max) when relu.
func bnApply(dst, src, r []float32, a, b float32, relu bool) {
	n := applyVec(dst, src, r, a, b, relu)
	if r != nil {
		r = r[n:]
	}
	bnApplyGo(dst[n:], src[n:], r, a, b, relu)
}

func bnApplyGo(dst, src, r []float32, a, b float32, relu bool) {
	dst = dst[:len(src)]
	switch {
	case r == nil && !relu:
		for k, v := range src {
			dst[k] = float32(a*v) + b
		}
	case r == nil:
		for k, v := range src {
			dst[k] = max(float32(a*v)+b, 0)
		}
	case !relu:
		r = r[:len(src)]
		for k, v := range src {
			dst[k] = (float32(a*v) + b) + r[k]
		}
	default:
		r = r[:len(src)]
		for k, v := range src {
			dst[k] = max((float32(a*v)+b)+r[k], 0)
		}
	}
}

// reluMaskInto writes (fresh) or adds dy masked by y ≠ 0 into dst (which
// may be dy itself): the ReLU gradient from its output y.
func reluMaskInto(dst, dy, y []float32, fresh bool) {
	n := maskVec(dst, dy, y, fresh)
	reluMaskGo(dst[n:], dy[n:], y[n:], fresh)
}

func reluMaskGo(dst, dy, y []float32, fresh bool) {
	y, dst = y[:len(dy)], dst[:len(dy)]
	if fresh {
		for i, yv := range y {
			dst[i] = math.Float32frombits(math.Float32bits(dy[i]) & reluMask(yv))
		}
		return
	}
	for i, yv := range y {
		dst[i] += math.Float32frombits(math.Float32bits(dy[i]) & reluMask(yv))
	}
}

// reluMask is all ones for any non-zero bit pattern of y, zero for +0.
func reluMask(y float32) uint32 {
	b := math.Float32bits(y)
	return -((b | -b) >> 31)
}

// bnBackK are the per-channel constants of the batch-norm data gradient.
type bnBackK struct {
	mu, is, ga, k1, k2 float32
}

// bnBackBody sets (fresh) or adds to gx the data gradient of one
// batch-norm plane: ga·((d - k1) - x̂·k2) with x̂ = (x - mu)·is, where d is
// dy, or dy masked by y ≠ 0 when mask is set.
func bnBackBody(gx, dy, x, y []float32, k bnBackK, fresh, mask bool) {
	n := backVec(gx, dy, x, y, &k, fresh, mask)
	if mask {
		y = y[n:]
	}
	bnBackGo(gx[n:], dy[n:], x[n:], y, k, fresh, mask)
}

func bnBackGo(gx, dy, x, y []float32, k bnBackK, fresh, mask bool) {
	gx, x = gx[:len(dy)], x[:len(dy)]
	if mask {
		y = y[:len(dy)]
	}
	for j, d := range dy {
		if mask {
			d = math.Float32frombits(math.Float32bits(d) & reluMask(y[j]))
		}
		xh := (x[j] - k.mu) * k.is
		v := k.ga * ((d - k.k1) - float32(xh*k.k2))
		if !fresh {
			v = gx[j] + v
		}
		gx[j] = v
	}
}
