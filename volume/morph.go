package volume

import (
	"fmt"
	"math"

	"github.com/metasurv/metasurv/internal/parallel"
)

// Element is a structuring element for the morphology of brain masks.
//
// The zero value is the 6-connected cross (a ball of radius one voxel).
// A Ball of radius r contains the voxels whose centre lies within r
// millimetres (with Spacing) of the centre, computed through an exact
// Euclidean distance transform, so the cost does not grow with r. A Cube
// of radius r is the (2r+1)³ box, the 26-connected element for r = 1,
// computed separably.
type Element struct {
	// Radius is in millimetres for a Ball (voxels when Spacing is zero)
	// and in voxels for a Cube; 0 means 1.
	Radius float64
	// Cube selects the box instead of the ball.
	Cube bool
	// Spacing is the voxel size in mm along i, j, k; zero means 1 mm.
	Spacing [3]float64
}

func (e Element) normalized() (Element, error) {
	if e.Radius == 0 {
		e.Radius = 1
	}
	if !(e.Radius > 0) || math.IsInf(e.Radius, 0) {
		return e, fmt.Errorf("%w: element radius %g, want a positive finite number", ErrInvalid, e.Radius)
	}
	for a := range e.Spacing {
		if e.Spacing[a] == 0 {
			e.Spacing[a] = 1
		}
		if !(e.Spacing[a] > 0) || math.IsInf(e.Spacing[a], 0) {
			return e, fmt.Errorf("%w: element spacing %v, want positive", ErrInvalid, e.Spacing)
		}
	}
	return e, nil
}

func checkMask(m *Mask) error {
	if m == nil {
		return fmt.Errorf("%w: nil mask", ErrShape)
	}
	return m.check(m.Dims)
}

// Dilate returns m dilated by e: every voxel within the element of a
// marked voxel. Voxels outside the grid count as unmarked.
func Dilate(m *Mask, e Element) (*Mask, error) {
	return morph(m, e, true)
}

// Erode returns m eroded by e: the voxels whose whole element lies in m.
// Voxels outside the grid count as unmarked, as scipy's binary_erosion
// with its default border, so a mask touching the border shrinks there.
func Erode(m *Mask, e Element) (*Mask, error) {
	return morph(m, e, false)
}

// Open is erosion then dilation: removes parts thinner than the element
// (the bridges between brain and scalp).
func Open(m *Mask, e Element) (*Mask, error) {
	x, err := Erode(m, e)
	if err != nil {
		return nil, err
	}
	return Dilate(x, e)
}

// Close is dilation then erosion: fills gaps and notches narrower than
// the element (sulci cut off by a threshold).
func Close(m *Mask, e Element) (*Mask, error) {
	x, err := Dilate(m, e)
	if err != nil {
		return nil, err
	}
	// The grid border must not erode what dilation could not grow past it,
	// so the closing of a mask touching the border keeps that border.
	return erodeKeepBorder(x, e)
}

func morph(m *Mask, e Element, dilate bool) (*Mask, error) {
	if err := checkMask(m); err != nil {
		return nil, err
	}
	e, err := e.normalized()
	if err != nil {
		return nil, err
	}
	if e.Cube {
		return cubeMorph(m, int(e.Radius), dilate, !dilate), nil
	}
	return ballMorph(m, e, dilate, !dilate), nil
}

func erodeKeepBorder(m *Mask, e Element) (*Mask, error) {
	e, err := e.normalized()
	if err != nil {
		return nil, err
	}
	if e.Cube {
		return cubeMorph(m, int(e.Radius), false, false), nil
	}
	return ballMorph(m, e, false, false), nil
}

// ballMorph dilates (or erodes) by a ball through the squared Euclidean
// distance to the nearest marked (or unmarked) voxel.
func ballMorph(m *Mask, e Element, dilate, borderIsBackground bool) *Mask {
	d := squaredDistance(m, dilate, e.Spacing)
	r2 := float32(e.Radius * e.Radius * (1 + 1e-9))
	out := &Mask{Dims: m.Dims, Data: make([]bool, len(m.Data))}
	nx, ny, nz := m.Dims[0], m.Dims[1], m.Dims[2]
	sp := e.Spacing
	parallel.For(nz, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			for j := 0; j < ny; j++ {
				base := nx * (j + ny*k)
				for i := 0; i < nx; i++ {
					x := d[base+i]
					if dilate {
						out.Data[base+i] = x <= r2
						continue
					}
					if borderIsBackground {
						x = min(x, borderDist2(i, j, k, m.Dims, sp))
					}
					out.Data[base+i] = x > r2
				}
			}
		}
	})
	return out
}

// borderDist2 is the squared distance from voxel (i, j, k) to the nearest
// voxel centre just outside the grid.
func borderDist2(i, j, k int, dims [3]int, sp [3]float64) float32 {
	b := math.Inf(1)
	for a, c := range [3]int{i, j, k} {
		t := float64(min(c+1, dims[a]-c)) * sp[a]
		b = min(b, t*t)
	}
	return float32(b)
}

// DistanceOptions configures SquaredDistance. The zero value measures
// the distance to the nearest marked voxel on 1 mm voxels.
type DistanceOptions struct {
	// Spacing is the voxel size in mm along i, j, k; a zero (or negative)
	// entry means 1 mm.
	Spacing [3]float64
	// ToUnmarked measures the distance to the nearest unmarked voxel
	// instead (the depth of every marked voxel inside the mask).
	ToUnmarked bool
}

// SquaredDistance returns, for every voxel, the squared Euclidean distance
// in mm to the nearest marked voxel (unmarked with o.ToUnmarked), 0 on
// such voxels, +Inf everywhere if there is none. It is the exact
// separable transform of Felzenszwalb and Huttenlocher (2012), linear in
// the number of voxels and run in parallel over lines.
func SquaredDistance(m *Mask, o DistanceOptions) ([]float32, error) {
	if err := checkMask(m); err != nil {
		return nil, err
	}
	for _, s := range o.Spacing {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("%w: spacing %v is not finite", ErrInvalid, o.Spacing)
		}
	}
	return squaredDistance(m, !o.ToUnmarked, o.Spacing), nil
}

// squaredDistance is SquaredDistance to the voxels whose flag is target.
func squaredDistance(m *Mask, target bool, spacing [3]float64) []float32 {
	for a := range spacing {
		if !(spacing[a] > 0) {
			spacing[a] = 1
		}
	}
	inf := float32(math.Inf(1))
	d := make([]float32, len(m.Data))
	for i, b := range m.Data {
		if b != target {
			d[i] = inf
		}
	}
	dims := m.Dims
	strides := [3]int{1, dims[0], dims[0] * dims[1]}
	for a := 0; a < 3; a++ {
		n := dims[a]
		if n == 1 {
			continue
		}
		b, c := otherAxes(a)
		lines := dims[b] * dims[c]
		w := spacing[a] * spacing[a]
		parallel.For(lines, func(lo, hi int) {
			s := newEnvelope(n)
			for l := lo; l < hi; l++ {
				ib, ic := l%dims[b], l/dims[b]
				start := ib*strides[b] + ic*strides[c]
				s.transform(d, start, strides[a], n, w)
			}
		})
	}
	return d
}

// otherAxes returns the two axes other than a, the one of smaller stride
// first, so that consecutive lines of a pass touch neighbouring memory.
func otherAxes(a int) (int, int) {
	switch a {
	case 0:
		return 1, 2
	case 1:
		return 0, 2
	}
	return 0, 1
}

// envelope holds the buffers of the 1-D lower-envelope transform.
type envelope struct {
	f []float64
	v []int
	z []float64
}

func newEnvelope(n int) *envelope {
	return &envelope{f: make([]float64, n), v: make([]int, n), z: make([]float64, n+1)}
}

// transform replaces the line d[start + stride·q], q < n, by
// min_p (w·(q−p)² + d[p]).
func (s *envelope) transform(d []float32, start, stride, n int, w float64) {
	f := s.f
	any := false
	for q := 0; q < n; q++ {
		f[q] = float64(d[start+q*stride])
		if !math.IsInf(f[q], 1) {
			any = true
		}
	}
	if !any {
		return
	}
	v, z := s.v, s.z
	k := -1
	for q := 0; q < n; q++ {
		if math.IsInf(f[q], 1) {
			continue
		}
		fq := f[q] + w*float64(q*q)
		for k >= 0 {
			p := v[k]
			sx := (fq - (f[p] + w*float64(p*p))) / (2 * w * float64(q-p))
			if sx > z[k] {
				break
			}
			k--
		}
		k++
		v[k] = q
		if k == 0 {
			z[k] = math.Inf(-1)
		} else {
			p := v[k-1]
			z[k] = (fq - (f[p] + w*float64(p*p))) / (2 * w * float64(q-p))
		}
		z[k+1] = math.Inf(1)
	}
	j := 0
	for q := 0; q < n; q++ {
		for z[j+1] < float64(q) {
			j++
		}
		p := v[j]
		dq := float64(q - p)
		d[start+q*stride] = float32(w*dq*dq + f[p])
	}
}

// cubeMorph applies the (2r+1)³ box separably: along each axis a voxel is
// kept (erosion) or set (dilation) by counting marked voxels in a sliding
// window.
func cubeMorph(m *Mask, r int, dilate, borderIsBackground bool) *Mask {
	out := &Mask{Dims: m.Dims, Data: append([]bool(nil), m.Data...)}
	dims := m.Dims
	strides := [3]int{1, dims[0], dims[0] * dims[1]}
	for a := 0; a < 3; a++ {
		n := dims[a]
		b, c := otherAxes(a)
		lines := dims[b] * dims[c]
		parallel.For(lines, func(lo, hi int) {
			line := make([]bool, n)
			for l := lo; l < hi; l++ {
				ib, ic := l%dims[b], l/dims[b]
				start := ib*strides[b] + ic*strides[c]
				windowLine(out.Data, line, start, strides[a], n, r, dilate, borderIsBackground)
			}
		})
	}
	return out
}

func windowLine(data, line []bool, start, stride, n, r int, dilate, borderIsBackground bool) {
	for q := 0; q < n; q++ {
		line[q] = data[start+q*stride]
	}
	count := 0 // marked voxels in [q-r, q+r] ∩ grid
	for q := 0; q < r && q < n; q++ {
		if line[q] {
			count++
		}
	}
	for q := 0; q < n; q++ {
		if q+r < n && line[q+r] {
			count++
		}
		if q-r-1 >= 0 && line[q-r-1] {
			count--
		}
		if dilate {
			data[start+q*stride] = count > 0
			continue
		}
		if borderIsBackground && (q-r < 0 || q+r >= n) {
			data[start+q*stride] = false
			continue
		}
		data[start+q*stride] = count == min(q+r, n-1)-max(q-r, 0)+1
	}
}

// neighbours lists the voxel offsets of 6- or 26-connectivity.
func neighbours(conn26 bool) [][3]int {
	var nb [][3]int
	for dk := -1; dk <= 1; dk++ {
		for dj := -1; dj <= 1; dj++ {
			for di := -1; di <= 1; di++ {
				n := abs(di) + abs(dj) + abs(dk)
				if n == 0 || (!conn26 && n > 1) {
					continue
				}
				nb = append(nb, [3]int{di, dj, dk})
			}
		}
	}
	return nb
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// flood labels the connected components of the voxels with value want
// (6- or 26-connected) and calls visit with each component's label and
// size; labels start at 1, unmatched voxels get 0. seeds, if non-nil,
// restricts labelling to the components containing them.
func flood(m *Mask, want bool, conn26 bool, seeds []int, visit func(label int32, size int)) []int32 {
	dims := m.Dims
	nx, ny, nz := dims[0], dims[1], dims[2]
	labels := make([]int32, len(m.Data))
	nb := neighbours(conn26)
	queue := make([]int32, 0, 1024)
	var label int32
	try := func(q int) {
		if labels[q] == 0 && m.Data[q] == want {
			labels[q] = label
			queue = append(queue, int32(q))
		}
	}
	grow := func(s int) {
		label++
		labels[s] = label
		queue = append(queue[:0], int32(s))
		size := 0
		for h := 0; h < len(queue); h++ {
			p := int(queue[h])
			size++
			i, r := p%nx, p/nx
			j, k := r%ny, r/ny
			if !conn26 {
				// 6-connected fast path: no offset table, one bound each.
				if i > 0 {
					try(p - 1)
				}
				if i < nx-1 {
					try(p + 1)
				}
				if j > 0 {
					try(p - nx)
				}
				if j < ny-1 {
					try(p + nx)
				}
				if k > 0 {
					try(p - nx*ny)
				}
				if k < nz-1 {
					try(p + nx*ny)
				}
				continue
			}
			for _, o := range nb {
				a, b, c := i+o[0], j+o[1], k+o[2]
				if a < 0 || b < 0 || c < 0 || a >= nx || b >= ny || c >= nz {
					continue
				}
				q := a + nx*(b+ny*c)
				if labels[q] == 0 && m.Data[q] == want {
					labels[q] = label
					queue = append(queue, int32(q))
				}
			}
		}
		visit(label, size)
	}
	if seeds != nil {
		for _, s := range seeds {
			if m.Data[s] == want && labels[s] == 0 {
				grow(s)
			}
		}
		return labels
	}
	for s := range m.Data {
		if m.Data[s] == want && labels[s] == 0 {
			grow(s)
		}
	}
	return labels
}

// Connectivity says which voxels touch: what a connected component is.
type Connectivity int

const (
	// Conn6 joins voxels that share a face (the zero value; scipy's
	// default structure).
	Conn6 Connectivity = iota
	// Conn26 also joins voxels that share an edge or a corner.
	Conn26
)

// LargestComponent keeps the largest connected component of m under the
// connectivity c: the brain among the islands a threshold leaves. An
// empty mask is returned empty.
func LargestComponent(m *Mask, c Connectivity) (*Mask, error) {
	if err := checkMask(m); err != nil {
		return nil, err
	}
	if c != Conn6 && c != Conn26 {
		return nil, fmt.Errorf("%w: connectivity %d, want Conn6 or Conn26", ErrInvalid, int(c))
	}
	conn26 := c == Conn26
	var best int32
	bestSize := 0
	labels := flood(m, true, conn26, nil, func(l int32, size int) {
		if size > bestSize {
			best, bestSize = l, size
		}
	})
	out := &Mask{Dims: m.Dims, Data: make([]bool, len(m.Data))}
	for i, l := range labels {
		out.Data[i] = best != 0 && l == best
	}
	return out, nil
}

// FillHoles marks every unmarked voxel that cannot reach the grid border
// through unmarked voxels (6-connected), as scipy's binary_fill_holes:
// the ventricles and dark lesions inside a thresholded brain.
func FillHoles(m *Mask) (*Mask, error) {
	if err := checkMask(m); err != nil {
		return nil, err
	}
	dims := m.Dims
	nx, ny, nz := dims[0], dims[1], dims[2]
	var seeds []int
	for k := 0; k < nz; k++ {
		for j := 0; j < ny; j++ {
			for i := 0; i < nx; i++ {
				if i == 0 || j == 0 || k == 0 || i == nx-1 || j == ny-1 || k == nz-1 {
					seeds = append(seeds, i+nx*(j+ny*k))
				}
			}
		}
	}
	outside := flood(m, false, false, seeds, func(int32, int) {})
	out := &Mask{Dims: dims, Data: make([]bool, len(m.Data))}
	for i := range out.Data {
		out.Data[i] = m.Data[i] || outside[i] == 0
	}
	return out, nil
}

// Dice returns the Dice overlap 2|A∩B|/(|A|+|B|) of two masks on one grid,
// 1 for two empty masks.
func Dice(a, b *Mask) (float64, error) {
	if err := checkMask(a); err != nil {
		return 0, err
	}
	if err := checkMask(b); err != nil {
		return 0, err
	}
	if a.Dims != b.Dims {
		return 0, fmt.Errorf("%w: dims %v and %v differ", ErrShape, a.Dims, b.Dims)
	}
	var both, na, nb int
	for i, x := range a.Data {
		y := b.Data[i]
		if x {
			na++
		}
		if y {
			nb++
		}
		if x && y {
			both++
		}
	}
	if na+nb == 0 {
		return 1, nil
	}
	return 2 * float64(both) / float64(na+nb), nil
}
