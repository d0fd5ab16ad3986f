package volume

import (
	"fmt"
	"math"
)

// Interp selects how a value between voxel centres is computed.
type Interp int

const (
	// Linear is trilinear interpolation of the 8 surrounding voxels, the
	// default of MONAI Spacing ("bilinear") and of scipy's order=1.
	Linear Interp = iota
	// Nearest takes the voxel whose centre is nearest, ties rounded to
	// even as torch grid_sample's "nearest" does. Use it for label maps.
	Nearest
)

// String names the interpolation.
func (m Interp) String() string {
	switch m {
	case Linear:
		return "linear"
	case Nearest:
		return "nearest"
	}
	return fmt.Sprintf("Interp(%d)", int(m))
}

// Boundary selects what sampling returns at points outside the grid.
type Boundary int

const (
	// Constant returns Sampler.Fill at any point outside [0, N-1] along
	// some axis, and interpolates only between grid voxels inside: scipy
	// ndimage's mode="constant", used by registration resampling.
	Constant Boundary = iota
	// Border clamps coordinates to [0, N-1] so the edge voxels extend
	// outward: torch grid_sample's padding_mode="border", MONAI Spacing's
	// default.
	Border
)

// String names the boundary rule.
func (b Boundary) String() string {
	switch b {
	case Constant:
		return "constant"
	case Border:
		return "border"
	}
	return fmt.Sprintf("Boundary(%d)", int(b))
}

// Sampler evaluates a volume at continuous voxel coordinates, where (i, j,
// k) integers are voxel centres. Its zero value is trilinear with 0
// outside the grid. It is a small value type: copy it freely.
type Sampler struct {
	Interp   Interp
	Boundary Boundary
	Fill     float32 // value outside the grid when Boundary is Constant
}

func (s Sampler) validate() error {
	if s.Interp != Linear && s.Interp != Nearest {
		return fmt.Errorf("volume: unknown interpolation %v", s.Interp)
	}
	if s.Boundary != Constant && s.Boundary != Border {
		return fmt.Errorf("volume: unknown boundary rule %v", s.Boundary)
	}
	return nil
}

// At returns v at voxel coordinate (x, y, z) (x along i, y along j, z
// along k). NaN coordinates give Fill (Constant) or NaN (Border).
func (s Sampler) At(v *Volume, x, y, z float64) float32 {
	g := grid{data: v.Data, nx: v.Dims[0], ny: v.Dims[1], nz: v.Dims[2]}
	if s.Interp == Nearest {
		return g.nearest(x, y, z, s.Boundary, s.Fill)
	}
	return g.linear(x, y, z, s.Boundary, s.Fill)
}

// grid is the view of a volume's data the inner loops use.
type grid struct {
	data       []float32
	nx, ny, nz int
}

// clampAxis clamps c to [0, n-1]; NaN stays NaN.
func clampAxis(c float64, n int) float64 {
	if c < 0 {
		return 0
	}
	if hi := float64(n - 1); c > hi {
		return hi
	}
	return c
}

// inside reports whether c lies in [0, n-1] (false for NaN).
func inside(c float64, n int) bool { return c >= 0 && c <= float64(n-1) }

// nearest samples the voxel whose centre is nearest to (x, y, z).
func (g grid) nearest(x, y, z float64, b Boundary, fill float32) float32 {
	if b == Border {
		x, y, z = clampAxis(x, g.nx), clampAxis(y, g.ny), clampAxis(z, g.nz)
	}
	if !inside(x, g.nx) || !inside(y, g.ny) || !inside(z, g.nz) {
		if b == Border {
			return float32(math.NaN())
		}
		return fill
	}
	i, j, k := int(math.RoundToEven(x)), int(math.RoundToEven(y)), int(math.RoundToEven(z))
	return g.data[i+g.nx*(j+g.ny*k)]
}

// linear interpolates trilinearly at (x, y, z).
func (g grid) linear(x, y, z float64, b Boundary, fill float32) float32 {
	if b == Border {
		x, y, z = clampAxis(x, g.nx), clampAxis(y, g.ny), clampAxis(z, g.nz)
	}
	if !inside(x, g.nx) || !inside(y, g.ny) || !inside(z, g.nz) {
		if b == Border {
			return float32(math.NaN())
		}
		return fill
	}
	return g.lerp3(x, y, z)
}

// lerp3 interpolates at a point known to lie inside the grid. The upper
// neighbour of a coordinate on the last voxel is the voxel itself (its
// weight is 0), so no read goes past the data.
func (g grid) lerp3(x, y, z float64) float32 {
	fx, fy, fz := math.Floor(x), math.Floor(y), math.Floor(z)
	i, j, k := int(fx), int(fy), int(fz)
	wx, wy, wz := x-fx, y-fy, z-fz
	sx, sy, sz := 1, g.nx, g.nx*g.ny
	if i == g.nx-1 {
		sx = 0
	}
	if j == g.ny-1 {
		sy = 0
	}
	if k == g.nz-1 {
		sz = 0
	}
	p := i + g.nx*(j+g.ny*k)
	d := g.data
	c00 := float64(d[p]) + wx*(float64(d[p+sx])-float64(d[p]))
	c10 := float64(d[p+sy]) + wx*(float64(d[p+sy+sx])-float64(d[p+sy]))
	c01 := float64(d[p+sz]) + wx*(float64(d[p+sz+sx])-float64(d[p+sz]))
	c11 := float64(d[p+sz+sy]) + wx*(float64(d[p+sz+sy+sx])-float64(d[p+sz+sy]))
	c0 := c00 + wy*(c10-c00)
	c1 := c01 + wy*(c11-c01)
	return float32(c0 + wz*(c1-c0))
}

// sampleRow fills out[i] with the value at p + i·d for i in [0, len(out)):
// one output row of a resampling, with the coordinate stepped by the
// affine's first column and recomputed from p each time, not accumulated.
func (s Sampler) sampleRow(g grid, out []float32, p, d [3]float64) {
	fill, b := s.Fill, s.Boundary
	if s.Interp == Nearest {
		for i := range out {
			fi := float64(i)
			out[i] = g.nearest(p[0]+fi*d[0], p[1]+fi*d[1], p[2]+fi*d[2], b, fill)
		}
		return
	}
	for i := range out {
		fi := float64(i)
		out[i] = g.linear(p[0]+fi*d[0], p[1]+fi*d[1], p[2]+fi*d[2], b, fill)
	}
}

// ResampleInto fills dst by sampling src at the voxel coordinates that
// vox maps dst's voxel indices to: dst(i,j,k) = src(vox·(i,j,k,1)). vox is
// the voxel→voxel map, usually src.Affine⁻¹ · T · dst.Affine for a world
// transform T (see Resample). dst's Dims and Data must already be set; its
// Affine is not used or changed. Slices of dst are computed in parallel.
func ResampleInto(dst, src *Volume, vox Affine, s Sampler) error {
	if err := dst.check(); err != nil {
		return fmt.Errorf("volume: resample destination: %w", err)
	}
	if err := src.check(); err != nil {
		return fmt.Errorf("volume: resample source: %w", err)
	}
	if err := s.validate(); err != nil {
		return err
	}
	if !vox.IsFinite() {
		return fmt.Errorf("volume: voxel map %v has non-finite entries", vox)
	}
	g := grid{data: src.Data, nx: src.Dims[0], ny: src.Dims[1], nz: src.Dims[2]}
	nx, ny, nz := dst.Dims[0], dst.Dims[1], dst.Dims[2]
	d := [3]float64{vox[0][0], vox[1][0], vox[2][0]}
	forSlices(nz, nx*ny, func(k0, k1 int) {
		for k := k0; k < k1; k++ {
			for j := 0; j < ny; j++ {
				p := vox.Apply([3]float64{0, float64(j), float64(k)})
				off := nx * (j + ny*k)
				s.sampleRow(g, dst.Data[off:off+nx], p, d)
			}
		}
	})
	return nil
}

// Resample returns src sampled on a new grid of the given dims and affine,
// through the world transform world (a map from points of the new grid's
// world space to src's world space; Identity() when both live in the same
// space): out(v) = src(src.Affine⁻¹ · world · affine · v).
func Resample(src *Volume, dims [3]int, affine, world Affine, s Sampler) (*Volume, error) {
	inv, err := src.Affine.Inverse()
	if err != nil {
		return nil, fmt.Errorf("volume: resample source affine: %w", err)
	}
	out, err := New(dims, affine)
	if err != nil {
		return nil, err
	}
	if err := ResampleInto(out, src, inv.Mul(world).Mul(affine), s); err != nil {
		return nil, err
	}
	return out, nil
}
