package norm

import "math"

// BET's self-intersection check (Smith 2002, §2.4): where the intensity
// term pulls a part of the surface through another (an eye socket, a
// lesion, a cut-off vertex), the evolved surface folds onto itself and the
// filled mask is wrong. Smith detects this by comparing, for pairs of
// vertices, their distance on the evolved surface with their distance on
// the initial sphere: vertices that lay far apart on the sphere but are
// now closer than an edge have crossed. When the measure is too high, the
// evolution is rerun from the sphere with a stronger smoothness
// constraint, relaxed again for the last quarter of the iterations so the
// surface can still fit the brain.

// maxBETPasses bounds the reruns: the first evolution plus three.
const maxBETPasses = 4

// selfIntersectionLimit is the largest tolerated self-intersection
// measure (the sum below); calibrated on ch2, whose surface does not
// fold, and on folded surfaces (see TestBETSelfIntersection).
const selfIntersectionLimit = 400

// selfIntersection returns Σ (d/l − d₀/l₀)² over the pairs of
// non-adjacent vertices that are now closer than the mean edge length l,
// with d their current distance, d₀ their distance on the initial sphere
// and l₀ its mean edge length: 0 for a surface that shrank or grew
// evenly, large when far-apart vertices have met.
func (m *mesh) selfIntersection() float64 {
	l, l0 := m.meanEdge(m.v), m.meanEdge(m.orig)
	if l == 0 || l0 == 0 {
		return 0
	}
	adj := make([]map[int]bool, len(m.v))
	for i, nb := range m.nbr {
		adj[i] = make(map[int]bool, len(nb))
		for _, j := range nb {
			adj[i][j] = true
		}
	}
	// A grid of cells of size l finds the close pairs in O(n).
	cell := func(p [3]float64) [3]int {
		return [3]int{int(math.Floor(p[0] / l)), int(math.Floor(p[1] / l)), int(math.Floor(p[2] / l))}
	}
	grid := map[[3]int][]int{}
	for i, p := range m.v {
		c := cell(p)
		grid[c] = append(grid[c], i)
	}
	var s float64
	for i, p := range m.v {
		c := cell(p)
		for dx := -1; dx <= 1; dx++ {
			for dy := -1; dy <= 1; dy++ {
				for dz := -1; dz <= 1; dz++ {
					for _, j := range grid[[3]int{c[0] + dx, c[1] + dy, c[2] + dz}] {
						if j <= i || adj[i][j] {
							continue
						}
						d := math.Sqrt(dot3(sub(m.v[j], p), sub(m.v[j], p)))
						if d >= l {
							continue
						}
						d0 := math.Sqrt(dot3(sub(m.orig[j], m.orig[i]), sub(m.orig[j], m.orig[i])))
						e := d/l - d0/l0
						s += e * e
					}
				}
			}
		}
	}
	return s
}

func (m *mesh) meanEdge(v [][3]float64) float64 {
	var s float64
	n := 0
	for i, nb := range m.nbr {
		for _, j := range nb {
			if j > i {
				s += math.Sqrt(dot3(sub(v[j], v[i]), sub(v[j], v[i])))
				n++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// rerunSmoothing returns the factor on the normal smoothing term at
// iteration it of pass: 1 on the first pass; on rerun p, 2^p during the
// first three quarters of the iterations, then 1.
func rerunSmoothing(pass, it, iters int) float64 {
	if pass == 0 || it >= iters*3/4 {
		return 1
	}
	return math.Ldexp(1, pass)
}
