package norm

import (
	"context"
	"fmt"
	"math"

	"github.com/metasurv/metasurv/internal/parallel"
	"github.com/metasurv/metasurv/volume"
)

// BET is the Brain Extraction Tool of Smith (Hum. Brain Mapp. 2002): a
// tessellated sphere started inside the brain at the centre of gravity
// expands to the brain surface under three forces per vertex — a
// tangential smoothing term, a curvature-dependent normal smoothing term
// and an intensity term that pushes outwards where the intensities under
// the surface look like brain (above a local threshold between the robust
// minimum t2 and the brain median tm) and inwards otherwise. The mask is
// the voxels inside the final surface.
//
// Implemented from the paper: robust range t2, t98, threshold
// t = t2 + 0.1(t98 − t2), centre of gravity and radius from the voxels
// above t, median tm inside that sphere, an icosphere of 2562 vertices
// started at half the radius, the three update terms with rmin = 3.33 mm,
// rmax = 10 mm and a 20 mm inward intensity profile, and the
// self-intersection check with its reruns under stronger smoothing
// (mask_bet_selfint.go). Not implemented: the optional skull surface and
// second-pass refinements.
type BET struct {
	// Fraction is BET's fractional intensity threshold bt; 0 means 0.5.
	// Smaller values give larger brains.
	Fraction float64
	// Iterations of the surface evolution; 0 means 200. BET runs 1000,
	// but without its self-intersection test and second pass (not
	// implemented here) the surface keeps creeping down the brain stem:
	// on ch2 the Dice with ch2bet is 0.94 after 100–200 iterations, 0.93
	// after 500.
	Iterations int
	// Subdivisions of the icosahedron; 0 means 4 (2562 vertices).
	Subdivisions int
}

// mesh is a triangulated surface with vertex adjacency.
type mesh struct {
	v     [][3]float64
	orig  [][3]float64 // the initial sphere's vertices (self-intersection test)
	faces [][3]int
	nbr   [][]int
}

// icosphere returns a unit sphere from a subdivided icosahedron.
func icosphere(div int) *mesh {
	p := (1 + math.Sqrt(5)) / 2
	m := &mesh{v: [][3]float64{{-1, p, 0}, {1, p, 0}, {-1, -p, 0}, {1, -p, 0}, {0, -1, p}, {0, 1, p},
		{0, -1, -p}, {0, 1, -p}, {p, 0, -1}, {p, 0, 1}, {-p, 0, -1}, {-p, 0, 1}},
		faces: [][3]int{{0, 11, 5}, {0, 5, 1}, {0, 1, 7}, {0, 7, 10}, {0, 10, 11}, {1, 5, 9}, {5, 11, 4},
			{11, 10, 2}, {10, 7, 6}, {7, 1, 8}, {3, 9, 4}, {3, 4, 2}, {3, 2, 6}, {3, 6, 8}, {3, 8, 9},
			{4, 9, 5}, {2, 4, 11}, {6, 2, 10}, {8, 6, 7}, {9, 8, 1}}}
	for i := range m.v {
		m.v[i] = unit(m.v[i])
	}
	for d := 0; d < div; d++ {
		mid := map[[2]int]int{}
		midpoint := func(a, b int) int {
			k := [2]int{min(a, b), max(a, b)}
			if i, ok := mid[k]; ok {
				return i
			}
			x := unit(add(m.v[a], m.v[b]))
			m.v = append(m.v, x)
			mid[k] = len(m.v) - 1
			return len(m.v) - 1
		}
		var faces [][3]int
		for _, f := range m.faces {
			a, b, c := midpoint(f[0], f[1]), midpoint(f[1], f[2]), midpoint(f[2], f[0])
			faces = append(faces, [3]int{f[0], a, c}, [3]int{f[1], b, a}, [3]int{f[2], c, b}, [3]int{a, b, c})
		}
		m.faces = faces
	}
	seen := make([]map[int]bool, len(m.v))
	m.nbr = make([][]int, len(m.v))
	for i := range seen {
		seen[i] = map[int]bool{}
	}
	for _, f := range m.faces {
		for e := 0; e < 3; e++ {
			a, b := f[e], f[(e+1)%3]
			if !seen[a][b] {
				seen[a][b], seen[b][a] = true, true
				m.nbr[a] = append(m.nbr[a], b)
				m.nbr[b] = append(m.nbr[b], a)
			}
		}
	}
	return m
}

func add(a, b [3]float64) [3]float64 { return [3]float64{a[0] + b[0], a[1] + b[1], a[2] + b[2]} }
func sub(a, b [3]float64) [3]float64 { return [3]float64{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
func scl(s float64, a [3]float64) [3]float64 {
	return [3]float64{s * a[0], s * a[1], s * a[2]}
}
func dot3(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
func cross(a, b [3]float64) [3]float64 {
	return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}
func unit(a [3]float64) [3]float64 {
	n := math.Sqrt(dot3(a, a))
	if n == 0 {
		return a
	}
	return scl(1/n, a)
}

// normals returns the outward vertex normals (sum of adjacent face normals).
func (m *mesh) normals(out [][3]float64) {
	for i := range out {
		out[i] = [3]float64{}
	}
	for _, f := range m.faces {
		n := cross(sub(m.v[f[1]], m.v[f[0]]), sub(m.v[f[2]], m.v[f[0]]))
		for _, i := range f {
			out[i] = add(out[i], n)
		}
	}
	for i := range out {
		out[i] = unit(out[i])
	}
}

// Strip returns the brain mask of v.
func (b BET) Strip(ctx context.Context, v *volume.Volume) (*volume.Mask, error) {
	m, _, err := b.strip(ctx, v)
	return m, err
}

// betRun describes how the surface evolution went.
type betRun struct {
	Passes           int     // evolutions run (1 + reruns)
	SelfIntersection float64 // measure of the first pass's surface
	Final            float64 // measure of the returned surface
}

func (b BET) strip(ctx context.Context, v *volume.Volume) (*volume.Mask, betRun, error) {
	var run betRun
	if v == nil {
		return nil, run, fmt.Errorf("%w: nil image", ErrMask)
	}
	bt, iters, div := b.Fraction, b.Iterations, b.Subdivisions
	if bt == 0 {
		bt = 0.5
	}
	if iters == 0 {
		iters = 200
	}
	if div == 0 {
		div = 4
	}
	if !(bt > 0 && bt < 1) || iters < 0 || div < 1 || div > 6 {
		return nil, run, fmt.Errorf("%w: BET fraction %g (want (0,1)), iterations %d, subdivisions %d (want 1..6)", ErrMask, bt, iters, div)
	}
	p, err := v.Percentiles(nil, 2, 98)
	if err != nil {
		return nil, run, fmt.Errorf("norm: BET: %w", err)
	}
	t2, t98 := p[0], p[1]
	t := t2 + 0.1*(t98-t2)
	inv, err := v.Affine.Inverse()
	if err != nil {
		return nil, run, fmt.Errorf("norm: BET: %w", err)
	}
	sp := v.Spacing()
	cog, radius, tm, err := betStats(v, t, t98, sp)
	if err != nil {
		return nil, run, err
	}
	// Rerun while the surface intersects itself; keep the least
	// intersecting surface.
	var m *mesh
	for pass := 0; pass < maxBETPasses; pass++ {
		p, err := b.evolve(ctx, v, inv, cog, radius, t2, t, tm, bt, iters, div, pass)
		if err != nil {
			return nil, run, err
		}
		si := p.selfIntersection()
		run.Passes = pass + 1
		if pass == 0 {
			run.SelfIntersection = si
		}
		if m == nil || si < run.Final {
			m, run.Final = p, si
		}
		if si <= selfIntersectionLimit {
			break
		}
	}
	mask, err := m.fill(v, inv)
	return mask, run, err
}

// evolve runs the surface evolution of one pass (pass > 0 is a rerun with
// more smoothing, see rerunSmoothing) from the initial sphere.
func (b BET) evolve(ctx context.Context, v *volume.Volume, inv volume.Affine, cog [3]float64, radius, t2, t, tm, bt float64, iters, div, pass int) (*mesh, error) {
	sp := v.Spacing()
	sample := func(x [3]float64) float64 { // world mm → nearest voxel value, t2 outside
		q := inv.Apply(x)
		i, j, k := int(math.Round(q[0])), int(math.Round(q[1])), int(math.Round(q[2]))
		if i < 0 || j < 0 || k < 0 || i >= v.Dims[0] || j >= v.Dims[1] || k >= v.Dims[2] {
			return t2
		}
		return float64(v.At(i, j, k))
	}
	m := icosphere(div)
	for i := range m.v {
		m.v[i] = add(cog, scl(radius/2, m.v[i]))
	}
	m.orig = append([][3]float64(nil), m.v...)
	const rmin, rmax = 3.33, 10.0
	E := (1/rmin + 1/rmax) / 2
	F := 6 / (1/rmin - 1/rmax)
	d1 := 20.0
	step := min(sp[0], sp[1], sp[2])
	nrm := make([][3]float64, len(m.v))
	next := make([][3]float64, len(m.v))
	for it := 0; it < iters; it++ {
		if it%50 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		m.normals(nrm)
		smooth := rerunSmoothing(pass, it, iters)
		var l float64
		for i, x := range m.v {
			for _, j := range m.nbr[i] {
				l += math.Sqrt(dot3(sub(m.v[j], x), sub(m.v[j], x)))
			}
		}
		var cnt int
		for i := range m.nbr {
			cnt += len(m.nbr[i])
		}
		l /= float64(cnt)
		parallel.For(len(m.v), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				x := m.v[i]
				var mean [3]float64
				for _, j := range m.nbr[i] {
					mean = add(mean, m.v[j])
				}
				s := sub(scl(1/float64(len(m.nbr[i])), mean), x)
				n := nrm[i]
				sn := scl(dot3(s, n), n)
				st := sub(s, sn)
				snLen := math.Abs(dot3(s, n))
				f2 := 0.0
				if snLen > 0 {
					r := l * l / (2 * snLen)
					f2 = 0.5 * (1 + math.Tanh(F*(1/r-E)))
				}
				f2 = min(1, f2*smooth)
				// intensity term: look inwards along −n.
				imin, imax := tm, t
				for d := 0.0; d <= d1; d += step {
					val := sample(sub(x, scl(d, n)))
					imin = math.Min(imin, val)
					if d <= d1/2 {
						imax = math.Max(imax, val)
					}
				}
				imin = math.Max(t2, imin)
				imax = math.Min(tm, imax)
				tl := (imax-t2)*bt + t2
				f3 := 0.0
				if imax-t2 > 0 {
					f3 = 2 * (imin - tl) / (imax - t2)
				}
				u := add(scl(0.5, st), scl(f2, sn))
				u = add(u, scl(0.05*f3*l, n))
				next[i] = add(x, u)
			}
		})
		m.v, next = next, m.v
	}
	return m, nil
}

// betStats returns the centre of gravity (mm) of the voxels above t
// (intensities clamped at t98), the radius of a sphere of their volume,
// and the median intensity tm inside that sphere.
func betStats(v *volume.Volume, t, t98 float64, sp [3]float64) ([3]float64, float64, float64, error) {
	var cog [3]float64
	var w float64
	n := 0
	nx, ny := v.Dims[0], v.Dims[1]
	for idx, x := range v.Data {
		if float64(x) <= t {
			continue
		}
		n++
		c := math.Min(float64(x), t98)
		i, j, k := idx%nx, (idx/nx)%ny, idx/(nx*ny)
		p := v.Affine.Apply([3]float64{float64(i), float64(j), float64(k)})
		cog = add(cog, scl(c, p))
		w += c
	}
	if n == 0 || w == 0 {
		return cog, 0, 0, fmt.Errorf("%w: BET: no voxel above the threshold %g", ErrMask, t)
	}
	cog = scl(1/w, cog)
	radius := math.Cbrt(3 * float64(n) * sp[0] * sp[1] * sp[2] / (4 * math.Pi))
	inside := &volume.Mask{Dims: v.Dims, Data: make([]bool, len(v.Data))}
	for idx, x := range v.Data {
		i, j, k := idx%nx, (idx/nx)%ny, idx/(nx*ny)
		d := sub(v.Affine.Apply([3]float64{float64(i), float64(j), float64(k)}), cog)
		inside.Data[idx] = float64(x) > 0 && dot3(d, d) <= radius*radius
	}
	q, err := v.Percentiles(inside, 50)
	if err != nil {
		return cog, 0, 0, fmt.Errorf("norm: BET: %w", err)
	}
	return cog, radius, q[0], nil
}

// fill marks the voxels of v's grid inside the surface: the triangles are
// drawn into the grid densely enough to leave no gap, and the enclosed
// voxels filled.
func (m *mesh) fill(v *volume.Volume, inv volume.Affine) (*volume.Mask, error) {
	shell := &volume.Mask{Dims: v.Dims, Data: make([]bool, len(v.Data))}
	mark := func(x [3]float64) {
		// points outside the grid are drawn on its border, which keeps
		// the shell closed if the surface leaves the image.
		q := inv.Apply(x)
		var c [3]int
		for a := range c {
			c[a] = min(max(int(math.Round(q[a])), 0), v.Dims[a]-1)
		}
		shell.Data[v.Index(c[0], c[1], c[2])] = true
	}
	sp := v.Spacing()
	h := 0.5 * min(sp[0], sp[1], sp[2])
	for _, f := range m.faces {
		a, b, c := m.v[f[0]], m.v[f[1]], m.v[f[2]]
		e := math.Max(math.Sqrt(dot3(sub(b, a), sub(b, a))), math.Max(math.Sqrt(dot3(sub(c, a), sub(c, a))), math.Sqrt(dot3(sub(c, b), sub(c, b)))))
		n := int(math.Ceil(e/h)) + 1
		for s := 0; s <= n; s++ {
			for r := 0; r <= n-s; r++ {
				u, w := float64(s)/float64(n), float64(r)/float64(n)
				mark(add(a, add(scl(u, sub(b, a)), scl(w, sub(c, a)))))
			}
		}
	}
	return volume.FillHoles(shell)
}
