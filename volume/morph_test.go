package volume

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func randomMask(dims [3]int, p float64, seed uint64) *Mask {
	rng := rand.New(rand.NewPCG(seed, 1))
	m, _ := NewMask(dims)
	for i := range m.Data {
		m.Data[i] = rng.Float64() < p
	}
	return m
}

// bruteMorph applies an element by definition: the element contains the
// offsets o with Σ(o·spacing)² ≤ r² (ball) or max|o| ≤ r (cube).
func bruteMorph(m *Mask, e Element, dilate bool) *Mask {
	e, _ = e.normalized()
	nx, ny, nz := m.Dims[0], m.Dims[1], m.Dims[2]
	out, _ := NewMask(m.Dims)
	R := int(e.Radius/min(e.Spacing[0], e.Spacing[1], e.Spacing[2])) + 1
	in := func(di, dj, dk int) bool {
		if e.Cube {
			r := int(e.Radius)
			return abs(di) <= r && abs(dj) <= r && abs(dk) <= r
		}
		x, y, z := float64(di)*e.Spacing[0], float64(dj)*e.Spacing[1], float64(dk)*e.Spacing[2]
		return x*x+y*y+z*z <= e.Radius*e.Radius*(1+1e-9)
	}
	for k := 0; k < nz; k++ {
		for j := 0; j < ny; j++ {
			for i := 0; i < nx; i++ {
				hit, all := false, true
				for dk := -R; dk <= R; dk++ {
					for dj := -R; dj <= R; dj++ {
						for di := -R; di <= R; di++ {
							if !in(di, dj, dk) {
								continue
							}
							a, b, c := i+di, j+dj, k+dk
							v := a >= 0 && b >= 0 && c >= 0 && a < nx && b < ny && c < nz && m.Data[a+nx*(b+ny*c)]
							hit = hit || v
							all = all && v
						}
					}
				}
				if dilate {
					out.Data[i+nx*(j+ny*k)] = hit
				} else {
					out.Data[i+nx*(j+ny*k)] = all
				}
			}
		}
	}
	return out
}

func TestMorphologyMatchesDefinition(t *testing.T) {
	elems := []Element{{}, {Radius: 1, Cube: true}, {Radius: 2, Cube: true}, {Radius: 2.5},
		{Radius: 3, Spacing: [3]float64{1, 1.5, 2}}, {Radius: 1.8, Spacing: [3]float64{0.9, 1, 1.2}}}
	for s, p := range []float64{0.05, 0.5, 0.9} {
		m := randomMask([3]int{11, 9, 8}, p, uint64(s))
		for _, e := range elems {
			for _, dil := range []bool{true, false} {
				var got *Mask
				var err error
				if dil {
					got, err = Dilate(m, e)
				} else {
					got, err = Erode(m, e)
				}
				if err != nil {
					t.Fatal(err)
				}
				want := bruteMorph(m, e, dil)
				for i := range want.Data {
					if got.Data[i] != want.Data[i] {
						t.Fatalf("p %g element %+v dilate %v: voxel %d = %v, want %v", p, e, dil, i, got.Data[i], want.Data[i])
					}
				}
			}
		}
	}
}

func TestFillHolesAndLargestComponent(t *testing.T) {
	m, _ := NewMask([3]int{12, 12, 12})
	idx := func(i, j, k int) int { return i + 12*(j+12*k) }
	// a hollow 6³ cube (shell) with a 4³ hole, and a separate 2³ island.
	for k := 2; k < 8; k++ {
		for j := 2; j < 8; j++ {
			for i := 2; i < 8; i++ {
				m.Data[idx(i, j, k)] = i == 2 || i == 7 || j == 2 || j == 7 || k == 2 || k == 7
			}
		}
	}
	for k := 9; k < 11; k++ {
		for j := 9; j < 11; j++ {
			for i := 9; i < 11; i++ {
				m.Data[idx(i, j, k)] = true
			}
		}
	}
	f, err := FillHoles(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Count(); got != 216+8 {
		t.Fatalf("filled count %d, want %d", got, 216+8)
	}
	l, err := LargestComponent(f, Conn6)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Count(); got != 216 || !l.Data[idx(4, 4, 4)] || l.Data[idx(9, 9, 9)] {
		t.Fatalf("largest component has %d voxels, want the 216 of the cube", got)
	}
	// opening a hole in the shell lets the background in: nothing to fill.
	m.Data[idx(2, 4, 4)] = false
	f, _ = FillHoles(m)
	if f.Count() != m.Count() {
		t.Fatalf("a breached shell was filled: %d > %d", f.Count(), m.Count())
	}
}

func TestSquaredDistance(t *testing.T) {
	m := randomMask([3]int{9, 7, 6}, 0.1, 3)
	sp := [3]float64{1, 1.3, 0.7}
	d, err := SquaredDistance(m, DistanceOptions{Spacing: sp})
	if err != nil {
		t.Fatal(err)
	}
	nx, ny, nz := 9, 7, 6
	for p := range d {
		i, j, k := p%nx, (p/nx)%ny, p/(nx*ny)
		best := 1e300
		for q, b := range m.Data {
			if !b {
				continue
			}
			a, bb, c := q%nx, (q/nx)%ny, q/(nx*ny)
			x, y, z := float64(i-a)*sp[0], float64(j-bb)*sp[1], float64(k-c)*sp[2]
			best = min(best, x*x+y*y+z*z)
		}
		if diff := float64(d[p]) - best; diff > 1e-4 || diff < -1e-4 {
			t.Fatalf("voxel %d: %g, want %g", p, d[p], best)
		}
	}
	_ = nz
	// ToUnmarked is the distance to the marked voxels of the complement.
	c := &Mask{Dims: m.Dims, Data: make([]bool, len(m.Data))}
	for i, b := range m.Data {
		c.Data[i] = !b
	}
	du, err := SquaredDistance(m, DistanceOptions{Spacing: sp, ToUnmarked: true})
	if err != nil {
		t.Fatal(err)
	}
	dc, _ := SquaredDistance(c, DistanceOptions{Spacing: sp})
	for i := range du {
		if du[i] != dc[i] {
			t.Fatalf("voxel %d: ToUnmarked %g, complement %g", i, du[i], dc[i])
		}
	}
	if _, err := SquaredDistance(nil, DistanceOptions{}); !errors.Is(err, ErrShape) {
		t.Errorf("nil mask: %v, want ErrShape", err)
	}
}

func TestMorphologyErrors(t *testing.T) {
	if _, err := Dilate(nil, Element{}); err == nil {
		t.Fatal("nil mask accepted")
	}
	m := &Mask{Dims: [3]int{2, 2, 2}, Data: make([]bool, 7)}
	if _, err := Erode(m, Element{}); !errors.Is(err, ErrShape) {
		t.Fatalf("short mask: %v, want ErrShape", err)
	}
	m.Data = make([]bool, 8)
	if _, err := Dilate(m, Element{Radius: -1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative radius: %v, want ErrInvalid", err)
	}
	if _, err := LargestComponent(m, Connectivity(7)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown connectivity: %v, want ErrInvalid", err)
	}
	if _, err := Dice(m, &Mask{Dims: [3]int{1, 1, 1}, Data: []bool{true}}); !errors.Is(err, ErrShape) {
		t.Fatalf("Dice of different grids: %v, want ErrShape", err)
	}
}

// TestMorphologyProperties checks the algebra of the operators on random
// masks: erosion ⊆ m ⊆ dilation, opening ⊆ m ⊆ closing, and opening and
// closing are idempotent.
func TestMorphologyProperties(t *testing.T) {
	sub := func(a, b *Mask) bool {
		for i := range a.Data {
			if a.Data[i] && !b.Data[i] {
				return false
			}
		}
		return true
	}
	same := func(a, b *Mask) bool { return sub(a, b) && sub(b, a) }
	for seed := uint64(0); seed < 4; seed++ {
		m := randomMask([3]int{14, 12, 10}, 0.3+0.15*float64(seed), seed)
		e := Element{Radius: 1.5 + float64(seed%2), Spacing: [3]float64{1, 1, 1.3}}
		er, _ := Erode(m, e)
		di, _ := Dilate(m, e)
		op, _ := Open(m, e)
		cl, _ := Close(m, e)
		op2, _ := Open(op, e)
		cl2, _ := Close(cl, e)
		if !sub(er, m) || !sub(m, di) || !sub(op, m) || !sub(m, cl) {
			t.Fatalf("seed %d: ordering erosion ⊆ m ⊆ dilation, opening ⊆ m ⊆ closing broken", seed)
		}
		if !same(op, op2) || !same(cl, cl2) {
			t.Fatalf("seed %d: opening or closing not idempotent", seed)
		}
		if d, _ := Dice(m, m); d != 1 {
			t.Fatalf("Dice of a mask with itself %g", d)
		}
	}
}
