package volume

import (
	"fmt"
	"math"

	"github.com/metasurv/metasurv/internal/enumtext"
)

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

var boundaryNames = []string{Constant: "constant", Border: "border"}

// String returns "constant" or "border".
func (b Boundary) String() string { return enumtext.String(int(b), boundaryNames, "Boundary") }

// MarshalText returns the name String gives; an unknown value is an error.
func (b Boundary) MarshalText() ([]byte, error) {
	return enumtext.Marshal(int(b), boundaryNames, "boundary rule", ErrInvalid)
}

// UnmarshalText parses "constant" or "border" (any case).
func (b *Boundary) UnmarshalText(t []byte) error {
	return enumtext.Set(b, t, boundaryNames, "boundary rule", ErrInvalid)
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
	if s.Interp != Linear && s.Interp != Nearest && s.Interp != BSpline3 {
		return fmt.Errorf("%w: unknown interpolation %v", ErrInvalid, s.Interp)
	}
	if s.Boundary != Constant && s.Boundary != Border {
		return fmt.Errorf("%w: unknown boundary rule %v", ErrInvalid, s.Boundary)
	}
	return nil
}

// At returns v at voxel coordinate (x, y, z) (x along i, y along j, z
// along k). NaN coordinates give Fill (Constant) or NaN (Border). With
// BSpline3 every call prefilters the whole volume: to evaluate many
// points, use a Field or ResampleInto.
func (s Sampler) At(v *Volume, x, y, z float64) float32 {
	g := gridOf(v.Data, v.Dims)
	if s.Interp == BSpline3 {
		g.data = bsplinePrefilter(v.Data, v.Dims)
	}
	return g.at(x, y, z, s)
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

// edgeTol is how far (in voxels) outside [0, n−1] a coordinate may fall
// and still count as inside: rounding in an affine and its inverse puts
// the voxel centres of an image resampled onto its own grid at −1e−16
// rather than 0, and those voxels must not become Fill. The kernels read
// such a point as the edge voxel (its weight beyond the edge is ~1e−16).
const edgeTol = 1e-9

// inside reports whether c lies in [0, n-1], up to edgeTol (false for NaN).
func inside(c float64, n int) bool { return c >= -edgeTol && c <= float64(n-1)+edgeTol }

// at samples (x, y, z) as s says: the nearest voxel, trilinear or cubic
// B-spline interpolation (g then holds the coefficients), outside the grid the clamped border (NaN for a NaN
// coordinate) or s.Fill.
func (g *grid) at(x, y, z float64, s Sampler) float32 {
	if s.Boundary == Border {
		x, y, z = clampAxis(x, g.nx), clampAxis(y, g.ny), clampAxis(z, g.nz)
	}
	if !inside(x, g.nx) || !inside(y, g.ny) || !inside(z, g.nz) {
		if s.Boundary == Border {
			return float32(math.NaN())
		}
		return s.Fill
	}
	switch s.Interp {
	case Nearest:
		return g.nearestIn(x, y, z)
	case BSpline3:
		return float32(g.bspline(x, y, z))
	}
	return float32(g.linear(x, y, z))
}

// insideAt reports whether point p + i·d lies inside the grid.
func (g *grid) insideAt(p, d [3]float64, i int) bool {
	fi := float64(i)
	return inside(p[0]+fi*d[0], g.nx) && inside(p[1]+fi*d[1], g.ny) && inside(p[2]+fi*d[2], g.nz)
}

// insideRange returns the range [lo, hi) of i in [0, n) for which
// p + i·d lies inside the grid. Along a line the inside set is an
// interval; it is estimated analytically and then settled with the exact
// per-point test, so the fast loops over it never need bounds tests.
func (g *grid) insideRange(p, d [3]float64, n int) (lo, hi int) {
	lo, hi = 0, n
	size := [3]int{g.nx, g.ny, g.nz}
	for a := 0; a < 3; a++ {
		last := float64(size[a] - 1)
		if d[a] == 0 {
			if !inside(p[a], size[a]) {
				return 0, 0
			}
			continue
		}
		t0, t1 := (-edgeTol-p[a])/d[a], (last+edgeTol-p[a])/d[a]
		if t0 > t1 {
			t0, t1 = t1, t0
		}
		t0 = min(max(t0, -1), float64(n)+1)
		t1 = min(max(t1, -1), float64(n)+1)
		lo = max(lo, int(math.Ceil(t0)))
		hi = min(hi, int(math.Floor(t1))+1)
	}
	lo, hi = max(lo, 0), min(hi, n)
	for lo < hi && !g.insideAt(p, d, lo) {
		lo++
	}
	for hi > lo && !g.insideAt(p, d, hi-1) {
		hi--
	}
	if lo >= hi {
		return 0, 0
	}
	for lo > 0 && g.insideAt(p, d, lo-1) {
		lo--
	}
	for hi < n && g.insideAt(p, d, hi) {
		hi++
	}
	return lo, hi
}

// sampleRow fills out[i] with the value at p + i·d for i in [0, len(out)):
// one output row of a resampling, with the coordinate stepped by the
// affine's first column and recomputed from p each time, not accumulated.
// p and d must be finite.
func (s Sampler) sampleRow(g *grid, out []float32, p, d [3]float64) {
	lo, hi := 0, len(out)
	border := s.Boundary == Border
	if !border {
		lo, hi = g.insideRange(p, d, len(out))
		for i := range out[:lo] {
			out[i] = s.Fill
		}
		for i := range out[hi:] {
			out[hi+i] = s.Fill
		}
	}
	if s.Interp == Linear {
		g.linearRow(out[lo:hi], lo, p, d, border)
		return
	}
	for i := lo; i < hi; i++ {
		fi := float64(i)
		x, y, z := p[0]+fi*d[0], p[1]+fi*d[1], p[2]+fi*d[2]
		if border {
			x, y, z = clampAxis(x, g.nx), clampAxis(y, g.ny), clampAxis(z, g.nz)
		}
		if s.Interp == Nearest {
			out[i] = g.nearestIn(x, y, z)
		} else {
			out[i] = float32(g.bspline(x, y, z))
		}
	}
}

// linearRow interpolates trilinearly at the points p + i·d, i = first,
// first+1, …, writing out[i−first]: the hot loop of every resampling,
// written as one loop because the per-point body is too large to inline
// (the arithmetic of trilinear, which serves single points). The points
// must lie inside the grid unless border clamps them; their coordinates
// are then ≥ −edgeTol, so int() is floor up to a weight of ~1e−16, and the
// upper neighbour of a point on the last voxel is the voxel itself (its
// weight is 0), so no read goes past the data.
func (g *grid) linearRow(out []float32, first int, p, d [3]float64, border bool) {
	nx, nxy := g.nx, g.nx*g.ny
	lastX, lastY, lastZ := g.nx-1, g.ny-1, g.nz-1
	data := g.data
	for n := range out {
		fi := float64(first + n)
		x, y, z := p[0]+fi*d[0], p[1]+fi*d[1], p[2]+fi*d[2]
		if border {
			x, y, z = clampAxis(x, g.nx), clampAxis(y, g.ny), clampAxis(z, g.nz)
		}
		i, j, k := int(x), int(y), int(z)
		wx, wy, wz := x-float64(i), y-float64(j), z-float64(k)
		sx, sy, sz := 1, nx, nxy
		if i >= lastX {
			sx = 0
		}
		if j >= lastY {
			sy = 0
		}
		if k >= lastZ {
			sz = 0
		}
		q := i + nx*j + nxy*k
		c := data[q : q+sx+sy+sz+1 : q+sx+sy+sz+1]
		v000, v100 := float64(c[0]), float64(c[sx])
		v010, v110 := float64(c[sy]), float64(c[sy+sx])
		v001, v101 := float64(c[sz]), float64(c[sz+sx])
		v011, v111 := float64(c[sz+sy]), float64(c[sz+sy+sx])
		c00 := v000 + wx*(v100-v000)
		c10 := v010 + wx*(v110-v010)
		c01 := v001 + wx*(v101-v001)
		c11 := v011 + wx*(v111-v011)
		c0 := c00 + wy*(c10-c00)
		c1 := c01 + wy*(c11-c01)
		out[n] = float32(c0 + wz*(c1-c0))
	}
}

// ResampleInto fills dst by sampling src at the voxel coordinates that
// vox maps dst's voxel indices to: dst(i,j,k) = src(vox·(i,j,k,1)). vox is
// the voxel→voxel map, usually src.Affine⁻¹ · T · dst.Affine for a world
// transform T (see Resample). dst's Dims and Data must already be set; its
// Affine is not used or changed; its Data must not overlap src's. Slices
// of dst are computed in parallel.
func ResampleInto(dst, src *Volume, vox Affine, s Sampler) error {
	if err := dst.check(); err != nil {
		return fmt.Errorf("volume: resample destination: %w", err)
	}
	if err := src.check(); err != nil {
		return fmt.Errorf("volume: resample source: %w", err)
	}
	if err := checkDistinct(dst, src); err != nil {
		return err
	}
	if err := s.validate(); err != nil {
		return err
	}
	if err := checkReach(vox, dst.Dims); err != nil {
		return err
	}
	g := gridOf(src.Data, src.Dims)
	if s.Interp == BSpline3 {
		g.data = bsplinePrefilter(src.Data, src.Dims)
	}
	nx, ny, nz := dst.Dims[0], dst.Dims[1], dst.Dims[2]
	d := [3]float64{vox[0][0], vox[1][0], vox[2][0]}
	forSlices(nz, nx*ny, func(k0, k1 int) {
		for k := k0; k < k1; k++ {
			for j := 0; j < ny; j++ {
				p := vox.Apply([3]float64{0, float64(j), float64(k)})
				off := nx * (j + ny*k)
				s.sampleRow(&g, dst.Data[off:off+nx], p, d)
			}
		}
	})
	return nil
}

// maxCoord bounds the source coordinates a voxel map may produce: far
// beyond any grid, yet small enough that p + i·d never overflows.
const maxCoord = 1e18

// checkReach verifies that vox maps every voxel of a grid of dims to
// finite source coordinates of sane size (checking the grid's corners
// suffices, the map being affine).
func checkReach(vox Affine, dims [3]int) error {
	if !vox.IsFinite() {
		return fmt.Errorf("%w: voxel map %v has non-finite entries", ErrInvalid, vox)
	}
	for c := 0; c < 8; c++ {
		var v [3]float64
		for r := 0; r < 3; r++ {
			if c>>r&1 == 1 {
				v[r] = float64(dims[r] - 1)
			}
		}
		for _, x := range vox.Apply(v) {
			if !(math.Abs(x) < maxCoord) {
				return fmt.Errorf("%w: voxel map %v sends voxel %v to coordinate %g", ErrInvalid, vox, v, x)
			}
		}
	}
	return nil
}

// Resample returns src sampled on a new grid of the given dims and affine,
// through the world transform world (a map from points of the new grid's
// world space to src's world space; Identity() when both live in the same
// space): out(v) = src(src.Affine⁻¹ · world · affine · v).
func Resample(src *Volume, dims [3]int, affine, world Affine, s Sampler) (*Volume, error) {
	if err := src.check(); err != nil {
		return nil, fmt.Errorf("volume: resample source: %w", err)
	}
	inv, err := src.Affine.Inverse()
	if err != nil {
		return nil, fmt.Errorf("volume: resample source affine: %w", err)
	}
	// A singular output affine or world transform maps the whole output
	// grid onto a plane or a point of the source: a constant image.
	if _, err := affine.Inverse(); err != nil {
		return nil, fmt.Errorf("volume: resample output affine: %w", err)
	}
	if _, err := world.Inverse(); err != nil {
		return nil, fmt.Errorf("volume: resample world transform: %w", err)
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
