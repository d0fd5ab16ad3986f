package volume

import (
	"fmt"
	"math"

	"github.com/metasurv/metasurv/internal/enumtext"
)

// ResizeMode selects how Resize computes a voxel of the new grid. All modes
// reproduce torch.nn.functional.interpolate as MONAI's Resize calls it,
// including its float32 index arithmetic, so results agree with MONAI to
// float32 rounding.
type ResizeMode int

const (
	// ResizeArea averages the input voxels each output voxel covers
	// (torch adaptive_avg_pool3d: output i along an axis averages input
	// [⌊i·in/out⌋, ⌈(i+1)·in/out⌉)). MONAI Resize's default mode; the right
	// choice for shrinking images.
	ResizeArea ResizeMode = iota
	// ResizeTrilinear interpolates with align_corners=False: output i
	// samples input coordinate (i+0.5)·in/out − 0.5, clamped at 0.
	ResizeTrilinear
	// ResizeNearest copies input voxel ⌊i·in/out⌋ (torch's "nearest"
	// rule, computed in float32 as torch does). Use it for label maps.
	ResizeNearest
)

var resizeNames = []string{ResizeArea: "area", ResizeTrilinear: "trilinear", ResizeNearest: "nearest"}

// String names the mode as MONAI does: "area", "trilinear" or "nearest".
func (m ResizeMode) String() string { return enumtext.String(int(m), resizeNames, "ResizeMode") }

// MarshalText returns the name String gives; an unknown value is an error.
func (m ResizeMode) MarshalText() ([]byte, error) {
	return enumtext.Marshal(int(m), resizeNames, "resize mode", ErrInvalid)
}

// UnmarshalText parses "area", "trilinear" or "nearest" (any case).
func (m *ResizeMode) UnmarshalText(b []byte) error {
	return enumtext.Set(m, b, resizeNames, "resize mode", ErrInvalid)
}

// ResizeAffine returns the affine of a grid of dims to covering the same
// world extent as a grid of dims from with affine a: MONAI's scale_affine
// as a MetaTensor Resize applies it, a · S where S scales voxel axis r by
// from[r]/to[r] about the grid's outer corner (translation (s−1)/2), so
// voxel edges, not voxel centres, stay in place. A plain torch tensor
// through MONAI Resize keeps its affine; metasurv always follows the
// MetaTensor rule so that world coordinates stay meaningful.
func ResizeAffine(a Affine, from, to [3]int) Affine {
	if from == to {
		return a
	}
	s := Identity()
	for r := 0; r < 3; r++ {
		f := float64(from[r]) / float64(max(to[r], 1))
		s[r][r] = f
		s[r][3] = (f - 1) / 2
	}
	return a.Mul(s)
}

// Resize returns v resampled onto a dims grid covering the same field of
// view, like MONAI Resize(spatial_size=dims, mode). The affine is updated
// by ResizeAffine. Resizing to the same dims returns a copy.
func (v *Volume) Resize(dims [3]int, mode ResizeMode) (*Volume, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	out, err := New(dims, ResizeAffine(v.Affine, v.Dims, dims))
	if err != nil {
		return nil, err
	}
	if err := ResizeInto(out, v, mode); err != nil {
		return nil, err
	}
	return out, nil
}

// ResizeInto resizes src into dst's grid (dst.Dims and dst.Data set by the
// caller, so a buffer can be reused; dst.Affine is left alone). dst and
// src must not share data.
func ResizeInto(dst, src *Volume, mode ResizeMode) error {
	if err := dst.check(); err != nil {
		return fmt.Errorf("volume: resize destination: %w", err)
	}
	if err := src.check(); err != nil {
		return fmt.Errorf("volume: resize source: %w", err)
	}
	if err := checkDistinct(dst, src); err != nil {
		return err
	}
	if mode < ResizeArea || mode > ResizeNearest {
		return fmt.Errorf("%w: unknown resize mode %v", ErrInvalid, mode)
	}
	if dst.Dims == src.Dims {
		copy(dst.Data, src.Data)
		return nil
	}
	switch mode {
	case ResizeNearest:
		resizeNearest(dst, src)
	case ResizeTrilinear:
		resizeLinear(dst, src)
	default:
		resizeArea(dst, src)
	}
	return nil
}

// resizeScale is torch's area_pixel_compute_scale without align_corners:
// in/out computed in float32.
func resizeScale(in, out int) float32 { return float32(in) / float32(out) }

// nearestTable returns, for each output index along an axis, the input
// index times stride (torch's nearest_idx).
func nearestTable(in, out, stride int) []int {
	t := make([]int, out)
	scale := resizeScale(in, out)
	for i := range t {
		src := i
		if out != in {
			src = min(int(math.Floor(float64(float32(float32(i)*scale)))), in-1)
		}
		t[i] = src * stride
	}
	return t
}

func resizeNearest(dst, src *Volume) {
	nx, ny, nz := dst.Dims[0], dst.Dims[1], dst.Dims[2]
	ti := nearestTable(src.Dims[0], nx, 1)
	tj := nearestTable(src.Dims[1], ny, src.Dims[0])
	tk := nearestTable(src.Dims[2], nz, src.Dims[0]*src.Dims[1])
	forSlices(nz, nx*ny, func(k0, k1 int) {
		for k := k0; k < k1; k++ {
			for j := 0; j < ny; j++ {
				row := dst.Data[nx*(j+ny*k) : nx*(j+ny*k+1)]
				s := src.Data[tj[j]+tk[k]:]
				for i := range row {
					row[i] = s[ti[i]]
				}
			}
		}
	})
}

// linearAxis holds, per output index, the two input offsets (index ×
// stride) and their float32 weights.
type linearAxis struct {
	o0, o1 []int
	w0, w1 []float32
}

// linearTable computes the source indices and weights of torch's
// upsample_linear kernels with align_corners=False, as the CPU kernel the
// fixtures come from does: scale = in/out in float32, the source
// coordinate src = scale·(i+0.5) − 0.5 in float64 (torch's accumulate
// type), clamped at 0; lower index ⌊src⌋, upper index one more unless at
// the last voxel; λ1 = float32(src − ⌊src⌋) and λ0 = 1 − λ1 in float32.
func linearTable(in, out, stride int) linearAxis {
	t := linearAxis{o0: make([]int, out), o1: make([]int, out), w0: make([]float32, out), w1: make([]float32, out)}
	scale := float64(resizeScale(in, out))
	for i := 0; i < out; i++ {
		src := scale*(float64(i)+0.5) - 0.5 // exact: scale has 24 bits
		if src < 0 {
			src = 0
		}
		i0 := min(int(src), in-1)
		l1 := float32(src - float64(i0))
		step := 0
		if i0 < in-1 {
			step = 1
		}
		t.o0[i], t.o1[i] = i0*stride, (i0+step)*stride
		t.w0[i], t.w1[i] = 1-l1, l1
	}
	return t
}

// lerp32 is torch's compiled a·w0 + b·w1 in float32: b·w1 rounded, then
// fused into a·w0 + (b·w1) with a single rounding (FMA). The product of two
// float32 values is exact in float64, so math.FMA followed by the
// conversion reproduces it except for double rounding at exact float32
// midpoints, a one-ulp difference in rare cases.
func lerp32(a, w0, b, w1 float32) float32 {
	return float32(math.FMA(float64(a), float64(w0), float64(b*w1)))
}

// resizeLinear interpolates in torch's order: along k (torch's W, the last
// tensor axis) first, then j, then i, each step lerp32.
func resizeLinear(dst, src *Volume) {
	nx, ny, nz := dst.Dims[0], dst.Dims[1], dst.Dims[2]
	ti := linearTable(src.Dims[0], nx, 1)
	tj := linearTable(src.Dims[1], ny, src.Dims[0])
	tk := linearTable(src.Dims[2], nz, src.Dims[0]*src.Dims[1])
	d := src.Data
	forSlices(nz, nx*ny, func(k0, k1 int) {
		for k := k0; k < k1; k++ {
			ka, kb, wka, wkb := tk.o0[k], tk.o1[k], tk.w0[k], tk.w1[k]
			for j := 0; j < ny; j++ {
				ja, jb, wja, wjb := tj.o0[j], tj.o1[j], tj.w0[j], tj.w1[j]
				a0, a1 := d[ja+ka:], d[ja+kb:] // rows (j0,k0), (j0,k1)
				b0, b1 := d[jb+ka:], d[jb+kb:] // rows (j1,k0), (j1,k1)
				row := dst.Data[nx*(j+ny*k) : nx*(j+ny*k+1)]
				for i := range row {
					ia, ib := ti.o0[i], ti.o1[i]
					lo := lerp32(lerp32(a0[ia], wka, a1[ia], wkb), wja, lerp32(b0[ia], wka, b1[ia], wkb), wjb)
					hi := lerp32(lerp32(a0[ib], wka, a1[ib], wkb), wja, lerp32(b0[ib], wka, b1[ib], wkb), wjb)
					row[i] = lerp32(lo, ti.w0[i], hi, ti.w1[i])
				}
			}
		}
	})
}

// areaTable returns, per output index along an axis, the input range
// [start, end) of torch's adaptive pooling: start = ⌊i·in/out⌋,
// end = ⌈(i+1)·in/out⌉, in exact integer arithmetic.
func areaTable(in, out int) (start, end []int) {
	start, end = make([]int, out), make([]int, out)
	for i := 0; i < out; i++ {
		start[i] = i * in / out
		end[i] = ((i+1)*in + out - 1) / out
	}
	return start, end
}

// resizeArea averages blocks in torch's order: a float32 sum over i, then
// j, then k (k innermost), divided by the block sizes along i, j and k in
// turn. The j and k offsets of a block are gathered once per output row so
// the innermost loops only index.
func resizeArea(dst, src *Volume) {
	nx, ny, nz := dst.Dims[0], dst.Dims[1], dst.Dims[2]
	sx, sxy := src.Dims[0], src.Dims[0]*src.Dims[1]
	i0, i1 := areaTable(src.Dims[0], nx)
	j0, j1 := areaTable(src.Dims[1], ny)
	k0s, k1s := areaTable(src.Dims[2], nz)
	maxJK := 0
	for j := range j0 {
		for k := range k0s {
			maxJK = max(maxJK, (j1[j]-j0[j])*(k1s[k]-k0s[k]))
		}
	}
	d := src.Data
	forSlices(nz, nx*ny, func(kLo, kHi int) {
		offs := make([]int, 0, maxJK) // (jj, kk) offsets of one block, kk fastest
		for k := kLo; k < kHi; k++ {
			dk := float32(k1s[k] - k0s[k])
			for j := 0; j < ny; j++ {
				offs = offs[:0]
				for jj := j0[j]; jj < j1[j]; jj++ {
					for kk := k0s[k]; kk < k1s[k]; kk++ {
						offs = append(offs, sx*jj+sxy*kk)
					}
				}
				dj := float32(j1[j] - j0[j])
				row := dst.Data[nx*(j+ny*k) : nx*(j+ny*k+1)]
				for i := range row {
					var sum float32
					for ii := i0[i]; ii < i1[i]; ii++ {
						for _, o := range offs {
							sum += d[ii+o]
						}
					}
					row[i] = sum / float32(i1[i]-i0[i]) / dj / dk
				}
			}
		}
	})
}
