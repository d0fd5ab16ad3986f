package volume

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// AxisOrientation tells which world axis one voxel axis runs along and in
// which direction: one row of nibabel's orientation array.
type AxisOrientation struct {
	// World is the world axis (0 = x/R, 1 = y/A, 2 = z/S) closest to the
	// voxel axis, or -1 when the axis is dropped (a singular affine).
	World int
	// Flip is +1 when increasing the voxel index moves toward R, A or S,
	// and -1 when it moves toward L, P or I.
	Flip int
}

// Ornt is an orientation for the three voxel axes (i, j, k), the Go form of
// nibabel's (3, 2) orientation array. It describes either how the voxel axes
// of an affine lie in world space (IOOrientation) or a permutation-and-flip
// to apply to an array (OrntTransform, ApplyOrnt).
type Ornt [3]AxisOrientation

// identityOrnt leaves an array unchanged.
var identityOrnt = Ornt{{0, 1}, {1, 1}, {2, 1}}

// Codes are the axis codes of a volume: for each voxel axis, the letter of
// the world direction that its index increases toward, as nibabel's
// aff2axcodes returns them: 'R' or 'L', 'A' or 'P', 'S' or 'I', and 0 for a
// dropped axis. RAS is NIfTI's canonical orientation; DICOM and ITK use LPS.
type Codes [3]byte

// Common orientations.
var (
	RAS = Codes{'R', 'A', 'S'}
	LPS = Codes{'L', 'P', 'S'}
)

// codeLabels lists, per world axis, the letters of its negative and
// positive ends (nibabel's default labels).
var codeLabels = [3][2]byte{{'L', 'R'}, {'P', 'A'}, {'I', 'S'}}

// String returns the codes as a string such as "RAS"; a dropped axis is
// shown as '?'.
func (c Codes) String() string {
	b := make([]byte, 3)
	for i, x := range c {
		if x == 0 {
			x = '?'
		}
		b[i] = x
	}
	return string(b)
}

// ParseCodes parses three axis letters such as "RAS", "LPS" or "lia"
// (case-insensitive). Each world axis must appear exactly once.
func ParseCodes(s string) (Codes, error) {
	var c Codes
	if len(s) != 3 {
		return c, fmt.Errorf("%w: axis codes %q must be 3 letters from R/L, A/P, S/I", ErrOrientation, s)
	}
	for i := 0; i < 3; i++ {
		x := s[i]
		if x >= 'a' && x <= 'z' {
			x -= 'a' - 'A'
		}
		c[i] = x
	}
	if _, err := c.Ornt(); err != nil {
		return Codes{}, err
	}
	return c, nil
}

// Ornt converts axis codes to an orientation (nibabel's axcodes2ornt). It
// fails unless every letter is one of RLAPSI and each world axis is used
// exactly once.
func (c Codes) Ornt() (Ornt, error) {
	var o Ornt
	var used [3]bool
	for i, x := range c {
		w, flip := codeAxis(x)
		if w < 0 {
			return o, fmt.Errorf("%w: axis code %q in %q is not one of R, L, A, P, S, I", ErrOrientation, x, c.String())
		}
		if used[w] {
			return o, fmt.Errorf("%w: axis codes %q use world axis %c%c twice", ErrOrientation, c.String(),
				codeLabels[w][0], codeLabels[w][1])
		}
		used[w] = true
		o[i] = AxisOrientation{World: w, Flip: flip}
	}
	return o, nil
}

// codeAxis returns the world axis and direction of one letter, or -1.
func codeAxis(x byte) (int, int) {
	for w, l := range codeLabels {
		switch x {
		case l[0]:
			return w, -1
		case l[1]:
			return w, 1
		}
	}
	return -1, 0
}

// Codes converts an orientation to axis codes (nibabel's ornt2axcodes).
func (o Ornt) Codes() Codes {
	var c Codes
	for i, a := range o {
		switch {
		case a.World < 0 || a.World > 2:
			c[i] = 0
		case a.Flip < 0:
			c[i] = codeLabels[a.World][0]
		default:
			c[i] = codeLabels[a.World][1]
		}
	}
	return c
}

// AxCodes returns the axis codes of an affine, the same answer as nibabel's
// aff2axcodes: "RAS" for a NIfTI-canonical image, "LPS" for DICOM order.
// Oblique affines get the codes of the closest axis-aligned orientation.
func AxCodes(a Affine) Codes { return IOOrientation(a).Codes() }

// AxCodes returns the axis codes of v's affine.
func (v *Volume) AxCodes() Codes { return AxCodes(v.Affine) }

// IOOrientation finds, for each voxel axis of a, the world axis it is
// closest to and its direction, exactly as nibabel's io_orientation: the
// columns of a's 3×3 part are normalised, replaced by the closest orthogonal
// matrix R = U·Vᵀ from their SVD (singular values at or below
// max(S)·3·ε are dropped), then voxel axes are assigned greedily, the one
// with the largest |R| entry first (ties by index), each taking the world
// axis of its largest entry. That order is current nibabel's, since its
// issue #1449; nibabel 5.0 took the axes in index order, which differs
// only when two voxel axes compete for one world axis. An axis whose column of R is all ≈ 0 (only for a singular
// affine) gets World = -1, and so do all axes of an affine with a
// non-finite entry in its 3×3 part (where numpy's SVD fails).
func IOOrientation(a Affine) Ornt {
	o := Ornt{{-1, 0}, {-1, 0}, {-1, 0}}
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			if math.IsNaN(a[r][c]) || math.IsInf(a[r][c], 0) {
				return o
			}
		}
	}
	rs := mat.NewDense(3, 3, nil)
	for c := 0; c < 3; c++ {
		z := math.Sqrt(a[0][c]*a[0][c] + a[1][c]*a[1][c] + a[2][c]*a[2][c])
		if z == 0 {
			z = 1
		}
		for r := 0; r < 3; r++ {
			rs.Set(r, c, a[r][c]/z)
		}
	}
	r := polarFactor(rs)
	for _, in := range axesByStrength(r) {
		col := [3]float64{r[0][in], r[1][in], r[2][in]}
		if math.Abs(col[0]) <= 1e-8 && math.Abs(col[1]) <= 1e-8 && math.Abs(col[2]) <= 1e-8 {
			continue // numpy.allclose(col, 0)
		}
		out := 0
		for w := 1; w < 3; w++ {
			if math.Abs(col[w]) > math.Abs(col[out]) {
				out = w
			}
		}
		o[in].World = out
		o[in].Flip = 1
		if col[out] < 0 {
			o[in].Flip = -1
		}
		r[out] = [3]float64{}
	}
	return o
}

// polarFactor returns Σ u_k v_kᵀ over the singular triplets of m whose
// singular value exceeds nibabel's tolerance: the orthogonal factor of m's
// polar decomposition when m is not singular.
func polarFactor(m *mat.Dense) [3][3]float64 {
	var svd mat.SVD
	var r [3][3]float64
	if !svd.Factorize(m, mat.SVDThin) {
		return r
	}
	s := svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	smax := 0.0
	for _, x := range s {
		smax = math.Max(smax, x)
	}
	tol := smax * 3 * 0x1p-52
	for k, x := range s {
		if x <= tol {
			continue
		}
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				r[i][j] += u.At(i, k) * v.At(j, k)
			}
		}
	}
	return r
}

// axesByStrength orders voxel axes by decreasing max_w R[w][axis]², ties
// kept in axis order (numpy's stable argsort of min(-R²)).
func axesByStrength(r [3][3]float64) [3]int {
	var key [3]float64
	for c := 0; c < 3; c++ {
		for w := 0; w < 3; w++ {
			key[c] = math.Max(key[c], r[w][c]*r[w][c])
		}
	}
	idx := [3]int{0, 1, 2}
	for i := 1; i < 3; i++ { // insertion sort: stable
		for j := i; j > 0 && key[idx[j]] > key[idx[j-1]]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	return idx
}

// OrntTransform returns the orientation that takes an array whose axes lie
// as start to one whose axes lie as end (nibabel's ornt_transform): row a
// says that axis a of the array becomes axis World of the result, flipped
// when Flip is -1.
func OrntTransform(start, end Ornt) (Ornt, error) {
	var t Ornt
	if err := end.checkTransform(); err != nil {
		return t, fmt.Errorf("target orientation: %w", err)
	}
	for e, ea := range end {
		found := false
		for s, sa := range start {
			if sa.World == ea.World && sa.World >= 0 {
				flip := 1
				if sa.Flip != ea.Flip {
					flip = -1
				}
				t[s] = AxisOrientation{World: e, Flip: flip}
				found = true
				break
			}
		}
		if !found {
			return t, fmt.Errorf("%w: world axis %d of the target is not among the axes of %v",
				ErrOrientation, ea.World, start.Codes())
		}
	}
	return t, nil
}

// checkTransform verifies that t is a permutation with flips of ±1.
func (o Ornt) checkTransform() error {
	var seen [3]bool
	for a, x := range o {
		if x.World < 0 || x.World > 2 || seen[x.World] || (x.Flip != 1 && x.Flip != -1) {
			return fmt.Errorf("%w: %v is not a permutation of axes with flips ±1 (axis %d)", ErrOrientation, o, a)
		}
		seen[x.World] = true
	}
	return nil
}

// InvOrntAffine returns the affine that maps voxel indices of an array of
// the given dims after the transform t back to voxel indices of the
// original array (nibabel's inv_ornt_aff). Multiplying a volume's affine
// by it on the right gives the affine of the transformed volume.
func InvOrntAffine(t Ornt, dims [3]int) (Affine, error) {
	var m Affine
	if err := t.checkTransform(); err != nil {
		return m, err
	}
	if _, err := NumVoxels(dims); err != nil {
		return m, err
	}
	m[3][3] = 1
	for a, x := range t {
		// new index along axis x.World → old index along axis a.
		f := float64(x.Flip)
		m[a][x.World] = f
		if x.Flip < 0 {
			m[a][3] = float64(dims[a] - 1)
		}
	}
	return m, nil
}

// ApplyOrnt permutes and flips v's axes as the transform t says (nibabel's
// apply_orientation) and updates the affine so that every voxel keeps its
// world position (as nibabel's as_reoriented). Data is copied exactly: no
// interpolation.
func (v *Volume) ApplyOrnt(t Ornt) (*Volume, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	inv, err := InvOrntAffine(t, v.Dims)
	if err != nil {
		return nil, err
	}
	var dims [3]int
	for a, x := range t {
		dims[x.World] = v.Dims[a]
	}
	out := &Volume{Dims: dims, Affine: v.Affine.Mul(inv), Data: make([]float32, len(v.Data))}
	if t == identityOrnt {
		copy(out.Data, v.Data)
		return out, nil
	}
	// Source offset of new voxel (I, J, K) = base + I·st[0] + J·st[1] + K·st[2].
	srcStride := [3]int{1, v.Dims[0], v.Dims[0] * v.Dims[1]}
	var st [3]int
	base := 0
	for a, x := range t {
		st[x.World] = srcStride[a] * x.Flip
		if x.Flip < 0 {
			base += (v.Dims[a] - 1) * srcStride[a]
		}
	}
	nx, ny, nz := dims[0], dims[1], dims[2]
	src := v.Data
	forSlices(nz, nx*ny, func(k0, k1 int) {
		for k := k0; k < k1; k++ {
			for j := 0; j < ny; j++ {
				row := out.Data[nx*(j+ny*k) : nx*(j+ny*k+1)]
				p := base + j*st[1] + k*st[2]
				for i := range row {
					row[i] = src[p]
					p += st[0]
				}
			}
		}
	})
	return out, nil
}

// Reorient returns v with its axes permuted and flipped so that its axis
// codes are to (for example LPS for ITK tools, RAS for NIfTI canonical),
// with the affine updated exactly as nibabel's as_reoriented: every voxel
// keeps its value and its world position. It fails if v's affine is
// singular so that an axis cannot be matched to a world direction.
func (v *Volume) Reorient(to Codes) (*Volume, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	if !v.Affine.IsFinite() {
		return nil, fmt.Errorf("%w: affine %v has non-finite entries", ErrSingular, v.Affine)
	}
	end, err := to.Ornt()
	if err != nil {
		return nil, err
	}
	start := IOOrientation(v.Affine)
	for a, x := range start {
		if x.World < 0 {
			return nil, fmt.Errorf("%w: voxel axis %d of affine %v has no world direction", ErrOrientation, a, v.Affine)
		}
	}
	t, err := OrntTransform(start, end)
	if err != nil {
		return nil, err
	}
	return v.ApplyOrnt(t)
}

// Canonical returns v reoriented to RAS, nibabel's as_closest_canonical:
// the orientation every metasurv pipeline works in.
func (v *Volume) Canonical() (*Volume, error) { return v.Reorient(RAS) }

// check verifies that v is not nil and that Data agrees with Dims.
func (v *Volume) check() error {
	if v == nil {
		return fmt.Errorf("%w: nil volume", ErrShape)
	}
	n, err := NumVoxels(v.Dims)
	if err != nil {
		return err
	}
	if len(v.Data) != n {
		return fmt.Errorf("%w: %d values for dims %v (want %d)", ErrShape, len(v.Data), v.Dims, n)
	}
	return nil
}
