package ops

import (
	"fmt"
	"math"

	"github.com/metasurv/metasurv/internal/parallel"
)

// Pool describes a 3-D pooling window as torch.nn.MaxPool3d / AvgPool3d.
// Zero Stride entries mean the kernel size (torch's default), zero Dilation
// entries mean 1. The tensors are (N*C, D, H, W): every channel is pooled
// independently.
type Pool struct {
	Kernel, Stride, Pad, Dilation [3]int
	// CeilMode rounds the output size up (torch ceil_mode=True); windows
	// that would start in the right padding are dropped as torch does.
	CeilMode bool
	// ExcludePad divides averages by the number of input cells only
	// (torch count_include_pad=False); the zero value matches torch's default.
	ExcludePad bool
}

func (p Pool) norm() Pool {
	for i := range 3 {
		if p.Stride[i] == 0 {
			p.Stride[i] = p.Kernel[i]
		}
		if p.Dilation[i] == 0 {
			p.Dilation[i] = 1
		}
	}
	return p
}

// Out returns the pooled size of an input of size in, or an error when the
// window, padding (at most half the kernel, as torch requires) or input
// size do not fit.
func (p Pool) Out(in [3]int) ([3]int, error) {
	p = p.norm()
	var o [3]int
	for i := range 3 {
		k, s, pd, d := p.Kernel[i], p.Stride[i], p.Pad[i], p.Dilation[i]
		if k <= 0 || s <= 0 || d <= 0 || pd < 0 || in[i] <= 0 {
			return o, fmt.Errorf("ops: pool: kernel %v, stride %v, dilation %v must be positive, padding %v non-negative, input %v positive",
				p.Kernel, p.Stride, p.Dilation, p.Pad, in)
		}
		if 2*pd > k {
			return o, fmt.Errorf("ops: pool: padding %v must be at most half the kernel %v", p.Pad, p.Kernel)
		}
		num := in[i] + 2*pd - d*(k-1) - 1
		if p.CeilMode {
			num += s - 1
		}
		if num < 0 {
			return o, fmt.Errorf("ops: pool: input %v is smaller than the window %v (dilation %v, padding %v)", in, p.Kernel, p.Dilation, p.Pad)
		}
		o[i] = num/s + 1
		if p.CeilMode && (o[i]-1)*s >= in[i]+pd {
			o[i]--
		}
	}
	return o, nil
}

// shape3 returns prod(d).
func vol(d [3]int) int { return d[0] * d[1] * d[2] }

// poolCheck validates the buffers of a pooling call and returns the output size.
func (p Pool) check(what string, nc int, in [3]int, nx, ny int) ([3]int, error) {
	out, err := p.Out(in)
	if err != nil {
		return out, err
	}
	if nc <= 0 || nx != nc*vol(in) || ny != nc*vol(out) {
		return out, fmt.Errorf("ops: %s: %d channels of %v -> %v need %d and %d values, got %d and %d",
			what, nc, in, out, nc*vol(in), nc*vol(out), nx, ny)
	}
	return out, nil
}

// MaxPool3d sets y to the window maxima of x ((nc, in...) -> (nc, Out(in)...))
// and idx to the flat spatial index (d*H*W + h*W + w) of each maximum within
// its channel, as torch's return_indices. Ties keep the first maximum in
// scan order and NaN wins (the last one), as in torch. With AVX-512 the
// channels run a vector kernel (one lane per output along W) that folds the
// taps in the same order with the same comparison, so its results are bit
// for bit those of the Go loop; the Go loop is the fallback and reference.
func MaxPool3d(y []float32, idx []int32, x []float32, nc int, in [3]int, p Pool) error {
	if in[0] > 0 && in[1] > 0 && in[2] > 0 && int64(in[0])*int64(in[1])*int64(in[2]) > math.MaxInt32 {
		return fmt.Errorf("ops: max pool: input %v has more than 2^31-1 values per channel, too many for int32 indices", in)
	}
	out, err := p.check("max pool", nc, in, len(x), len(y))
	if err != nil {
		return err
	}
	if len(idx) != len(y) {
		return fmt.Errorf("ops: max pool: %d indices for %d outputs", len(idx), len(y))
	}
	pl := planFor(in, out, p.norm())
	vec := pl.vec != nil && vecPool()
	sIn, sOut := vol(in), vol(out)
	parallel.ForChunks(nc, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			yc, ic, xc := y[c*sOut:(c+1)*sOut], idx[c*sOut:(c+1)*sOut], x[c*sIn:(c+1)*sIn]
			if !vec || !pl.vec.run(yc, ic, xc) {
				maxPoolChannel(yc, ic, xc, in, &pl.ax)
			}
		}
	})
	return nil
}

// poolAxis lists, for every output position on one axis, the first input
// coordinate inside the input and the number of such taps, dil apart.
type poolAxis struct {
	first, n []int
	dil      int
}

// axis precomputes the in-range taps of every output position on axis a.
func (p Pool) axis(a, out, in int) poolAxis {
	ax := poolAxis{first: make([]int, out), n: make([]int, out), dil: p.Dilation[a]}
	for o := range out {
		k0, k1 := p.taps(a, o, in)
		ax.first[o] = o*p.Stride[a] - p.Pad[a] + k0*p.Dilation[a]
		ax.n[o] = k1 - k0
	}
	return ax
}

// maxPoolChannel pools one channel; windows are scanned in (d, h, w) order
// so that ties keep the first maximum and NaN the last one, as in torch.
// Channels without NaN take a loop whose update the compiler turns into
// conditional moves.
func maxPoolChannel(yc []float32, ic []int32, xc []float32, in [3]int, ax *[3]poolAxis) {
	nan := hasNaN(xc)
	ad, ah, aw := &ax[0], &ax[1], &ax[2]
	o := 0
	for od, d0 := range ad.first {
		nd := ad.n[od]
		for oh, h0 := range ah.first {
			nh := ah.n[oh]
			for ow, w0 := range aw.first {
				nw := aw.n[ow]
				best, bi := float32(math.Inf(-1)), int32(-1)
				if nd > 0 && nh > 0 && nw > 0 {
					bi = int32((d0*in[1]+h0)*in[2] + w0)
					best = xc[bi]
				}
				for i := range nd {
					for j := range nh {
						base := ((d0+i*ad.dil)*in[1]+h0+j*ah.dil)*in[2] + w0
						if nan {
							best, bi = maxRowNaN(xc, base, nw, aw.dil, best, bi)
						} else if nw == 3 && aw.dil == 1 {
							best, bi = maxRow3(xc[base:base+3], base, best, bi)
						} else {
							best, bi = maxRow(xc, base, nw, aw.dil, best, bi)
						}
					}
				}
				yc[o], ic[o] = best, bi
				o++
			}
		}
	}
}

// maxRow folds n taps dil apart from xc[base] into the running maximum,
// keeping the first of equal values; x must hold no NaN.
func maxRow(xc []float32, base, n, dil int, best float32, bi int32) (float32, int32) {
	for k := range n {
		i := base + k*dil
		v := xc[i]
		if v > best {
			best = v
			bi = int32(i)
		}
	}
	return best, bi
}

// maxRow3 is maxRow for three adjacent taps r, the common 3-wide window.
func maxRow3(r []float32, base int, best float32, bi int32) (float32, int32) {
	if v := r[0]; v > best {
		best, bi = v, int32(base)
	}
	if v := r[1]; v > best {
		best, bi = v, int32(base+1)
	}
	if v := r[2]; v > best {
		best, bi = v, int32(base+2)
	}
	return best, bi
}

// hasNaN reports whether x holds a NaN (or, conservatively, an infinity:
// v-v is NaN for both), with four independent sums to keep the loop short.
func hasNaN(x []float32) bool {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		q := x[i : i+4 : i+4]
		s0 += q[0] - q[0]
		s1 += q[1] - q[1]
		s2 += q[2] - q[2]
		s3 += q[3] - q[3]
	}
	for _, v := range x[i:] {
		s0 += v - v
	}
	s := s0 + s1 + s2 + s3
	return s != s
}

// maxRowNaN is maxRow where a NaN wins and the last NaN is kept.
func maxRowNaN(xc []float32, base, n, dil int, best float32, bi int32) (float32, int32) {
	for k := range n {
		i := base + k*dil
		if v := xc[i]; v > best || v != v {
			best, bi = v, int32(i)
		}
	}
	return best, bi
}

// taps returns the range [k0, k1) of kernel taps on axis a whose input
// coordinate o*stride - pad + k*dilation lies in [0, in).
func (p Pool) taps(a, o, in int) (k0, k1 int) {
	start := o*p.Stride[a] - p.Pad[a]
	d := p.Dilation[a]
	if start < 0 {
		k0 = (-start + d - 1) / d
	}
	if last := in - 1 - start; last >= 0 {
		k1 = min(p.Kernel[a], last/d+1)
	}
	return k0, max(k0, k1)
}

// MaxPool3dBackward sets dx (nc, in...) to zero and adds each dy to the
// input cell its forward maximum came from.
func MaxPool3dBackward(dx, dy []float32, idx []int32, nc int, in [3]int, p Pool) error {
	out, err := p.check("max pool backward", nc, in, len(dx), len(dy))
	if err != nil {
		return err
	}
	if len(idx) != len(dy) {
		return fmt.Errorf("ops: max pool backward: %d indices for %d gradients", len(idx), len(dy))
	}
	sIn, sOut := vol(in), vol(out)
	parallel.ForChunks(nc, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			dxc := dx[c*sIn : (c+1)*sIn]
			clear(dxc)
			scatterAdd(dxc, dy[c*sOut:(c+1)*sOut], idx[c*sOut:(c+1)*sOut])
		}
	})
	return nil
}

// scatterAdd adds dy[o] to dx[idx[o]] in the order of o, skipping indices
// outside dx.
func scatterAdd(dx, dy []float32, idx []int32) {
	dy = dy[:len(idx)]
	for o, i := range idx {
		if uint(i) < uint(len(dx)) {
			dx[i] += dy[o]
		}
	}
}

// avgRange returns torch's divisor for the average-pool window of output o on
// one axis: the window clipped to the padded input, or to the input alone
// when padding is excluded. It returns the clipped input range too.
func (p Pool) avgRange(axis, o, in int) (lo, hi, size int) {
	lo = o*p.Stride[axis] - p.Pad[axis]
	hi = min(lo+p.Kernel[axis], in+p.Pad[axis])
	size = hi - lo
	lo, hi = max(lo, 0), min(hi, in)
	if p.ExcludePad {
		size = hi - lo
	}
	return lo, hi, size
}

// AvgPool3d sets y to the window means of x with torch's divisor rules
// (count_include_pad unless ExcludePad). Dilation must be 1, as in torch.
func AvgPool3d(y, x []float32, nc int, in [3]int, p Pool) error {
	return avgPool("avg pool", y, x, nc, in, p, false)
}

// AvgPool3dBackward sets dx to the gradient of AvgPool3d: each dy spread
// evenly (by the same divisor) over its window.
func AvgPool3dBackward(dx, dy []float32, nc int, in [3]int, p Pool) error {
	return avgPool("avg pool backward", dy, dx, nc, in, p, true)
}

// avgPool runs the forward (y from x) or the backward (x-shaped dx from y-shaped dy).
func avgPool(what string, y, x []float32, nc int, in [3]int, p Pool, backward bool) error {
	out, err := p.check(what, nc, in, len(x), len(y))
	if err != nil {
		return err
	}
	p = p.norm()
	if p.Dilation != [3]int{1, 1, 1} {
		return fmt.Errorf("ops: %s: dilation %v is not supported (torch has none)", what, p.Dilation)
	}
	boxPool(y, x, nc, in, out, p.avgPlan(in, out), backward)
	return nil
}

// adaptiveRange is torch's adaptive pooling bin of output o out of n over
// an axis of length in: [floor(o*in/n), ceil((o+1)*in/n)).
func adaptiveRange(o, n, in int) (lo, hi int) {
	return o * in / n, ((o+1)*in + n - 1) / n
}

// AdaptiveAvgPool3d sets y (nc, out...) to the means of torch's adaptive bins of x (nc, in...).
func AdaptiveAvgPool3d(y, x []float32, nc int, in, out [3]int) error {
	return adaptive("adaptive avg pool", y, x, nc, in, out, false)
}

// AdaptiveAvgPool3dBackward sets dx to the gradient of AdaptiveAvgPool3d.
func AdaptiveAvgPool3dBackward(dx, dy []float32, nc int, in, out [3]int) error {
	return adaptive("adaptive avg pool backward", dy, dx, nc, in, out, true)
}

// adaptive runs the forward (y from x) or the backward (x-shaped dx from y-shaped dy).
func adaptive(what string, y, x []float32, nc int, in, out [3]int, backward bool) error {
	for i := range 3 {
		if in[i] <= 0 || out[i] <= 0 {
			return fmt.Errorf("ops: %s: sizes %v -> %v must be positive", what, in, out)
		}
	}
	if nc <= 0 || len(x) != nc*vol(in) || len(y) != nc*vol(out) {
		return fmt.Errorf("ops: %s: %d channels of %v -> %v need %d and %d values, got %d and %d",
			what, nc, in, out, nc*vol(in), nc*vol(out), len(x), len(y))
	}
	boxPool(y, x, nc, in, out, adaptivePlan(in, out), backward)
	return nil
}

// GlobalAvgPool sets y[c] to the mean of the s values of channel c of x
// (nc channels): AdaptiveAvgPool3d to 1×1×1, the head of every CNN.
func GlobalAvgPool(y, x []float32, nc, s int) error {
	if nc <= 0 || s <= 0 || len(x) != nc*s || len(y) != nc {
		return fmt.Errorf("ops: global avg pool: %d channels of %d need %d inputs and %d outputs, got %d and %d", nc, s, nc*s, nc, len(x), len(y))
	}
	parallel.ForChunks(nc, max(1, grain/s), func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var sum float64
			for _, v := range x[c*s : (c+1)*s] {
				sum += float64(v)
			}
			y[c] = float32(sum / float64(s))
		}
	})
	return nil
}

// GlobalAvgPoolBackward sets every dx of channel c to dy[c]/s.
func GlobalAvgPoolBackward(dx, dy []float32, nc, s int) error {
	if nc <= 0 || s <= 0 || len(dx) != nc*s || len(dy) != nc {
		return fmt.Errorf("ops: global avg pool backward: %d channels of %d need %d inputs and %d gradients, got %d and %d", nc, s, nc*s, nc, len(dx), len(dy))
	}
	parallel.ForChunks(nc, max(1, grain/s), func(lo, hi int) {
		for c := lo; c < hi; c++ {
			g := dy[c] / float32(s)
			for i := range dx[c*s : (c+1)*s] {
				dx[c*s+i] = g
			}
		}
	})
	return nil
}
