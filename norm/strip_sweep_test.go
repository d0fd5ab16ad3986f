package norm

import (
	"context"
	"math"
	"os"
	"testing"
	"time"

	"github.com/metasurv/metasurv/register"
	"github.com/metasurv/metasurv/volume"
)

// The skull-stripping sweep (issue 16): Dice of the atlas stripper and of
// BET against ch2bet on ch2 moved rigidly (through its affine, so the
// true brain stays the ch2bet voxels), with a large lesion and edema
// planted near the cortex, with partial coverage (vertex or cerebellum
// cut off), and both. The atlas is ch2 itself (the only human head in
// ../shared), so the atlas path's Dice measures registration and mask
// propagation, not anatomical variability between subjects.
// METASURV_STRIP_SWEEP=1 runs every case; `go test` the lesion case.

// plantLesion writes a ring-enhancing metastasis with perifocal edema as
// it looks on T1c into v (brain voxels only): a necrotic core (dark), an
// enhancing rim brighter than anything in the brain, and edema darkening
// the tissue out to radius edema.
func plantLesion(v *volume.Volume, brain *volume.Mask, c [3]float64, core, rim, edema float64) {
	nx, ny := v.Dims[0], v.Dims[1]
	for idx, in := range brain.Data {
		if !in {
			continue
		}
		p := v.Affine.Apply([3]float64{float64(idx % nx), float64((idx / nx) % ny), float64(idx / (nx * ny))})
		r := math.Sqrt((p[0]-c[0])*(p[0]-c[0]) + (p[1]-c[1])*(p[1]-c[1]) + (p[2]-c[2])*(p[2]-c[2]))
		x := float64(v.Data[idx])
		switch {
		case r < core:
			x = 25
		case r < rim:
			x = 230
		case r < edema:
			w := math.Min(1, (edema-r)/4)
			x *= 1 - 0.35*w
		}
		v.Data[idx] = float32(x)
	}
}

// cropZ keeps slices [k0, k1) of v (and the mask).
func cropZ(v *volume.Volume, m *volume.Mask, k0, k1 int) (*volume.Volume, *volume.Mask) {
	d := [3]int{v.Dims[0], v.Dims[1], k1 - k0}
	a := v.Affine
	for r := 0; r < 3; r++ {
		a[r][3] += a[r][2] * float64(k0)
	}
	plane := d[0] * d[1]
	out, _ := volume.New(d, a)
	copy(out.Data, v.Data[k0*plane:k1*plane])
	om := &volume.Mask{Dims: d, Data: append([]bool(nil), m.Data[k0*plane:k1*plane]...)}
	return out, om
}

func TestStripSweep(t *testing.T) {
	full := os.Getenv("METASURV_STRIP_SWEEP") != ""
	head, brain := loadCh2Brain(t)
	rad := math.Pi / 180
	motion := register.NewRigid([3]float64{8 * rad, -6 * rad, 5 * rad}, [3]float64{6, -9, 7}, [3]float64{0, -18, 18}).Matrix()
	type sc struct {
		name            string
		lesion          bool
		k0, k1          int // slices kept (ch2 has 181)
		minAtlas, minBT float64
	}
	cases := []sc{
		{"whole head", false, 0, 181, 0.95, 0.90},
		{"lesion+edema", true, 0, 181, 0.95, 0.88},
		{"no vertex", false, 0, 150, 0.95, 0.85},
		{"no cerebellum", false, 45, 181, 0.95, 0.85},
		{"lesion+edema, no vertex", true, 0, 150, 0.95, 0.85},
	}
	for _, c := range cases {
		if !full && c.name != "lesion+edema" {
			continue // the fast subset of `go test`
		}
		v := head.Clone()
		if c.lesion {
			plantLesion(v, brain, [3]float64{42, -35, 38}, 9, 13, 32)
		}
		truth := brain
		if c.k0 != 0 || c.k1 != head.Dims[2] {
			v, truth = cropZ(v, brain, c.k0, c.k1)
		}
		v.Affine = motion.Mul(v.Affine)
		start := time.Now()
		am, err := (&AtlasStripper{Atlas: head, AtlasMask: brain}).Strip(context.Background(), v)
		if err != nil {
			t.Fatal(err)
		}
		atime := time.Since(start)
		da, _ := volume.Dice(am, truth)
		start = time.Now()
		bm, run, err := BET{}.strip(context.Background(), v)
		if err != nil {
			t.Fatal(err)
		}
		db, _ := volume.Dice(bm, truth)
		t.Logf("%-24s atlas Dice %.4f (%.1f s)   BET Dice %.4f (%.1f s, %d pass(es), self-intersection %.0f → %.0f)",
			c.name, da, atime.Seconds(), db, time.Since(start).Seconds(), run.Passes, run.SelfIntersection, run.Final)
		if da < c.minAtlas {
			t.Errorf("%s: atlas Dice %.4f < %.2f", c.name, da, c.minAtlas)
		}
		if db < c.minBT {
			t.Errorf("%s: BET Dice %.4f < %.2f", c.name, db, c.minBT)
		}
	}
}

// TestBETSelfIntersection: the measure is ~0 on the initial sphere and
// on a uniformly scaled one, and large once a part of the surface is
// pushed through the opposite side.
func TestBETSelfIntersection(t *testing.T) {
	m := icosphere(4)
	for i := range m.v {
		m.v[i] = scl(40, m.v[i])
	}
	m.orig = append([][3]float64(nil), m.v...)
	if s := m.selfIntersection(); s > 1e-9 {
		t.Fatalf("sphere: %g", s)
	}
	for i := range m.v {
		m.v[i] = scl(1.7, m.v[i])
	}
	if s := m.selfIntersection(); s > 1e-9 {
		t.Fatalf("scaled sphere: %g", s)
	}
	// push the cap z > 0.8·R through the brain onto the opposite cap
	for i, p := range m.v {
		if p[2] > 0.8*68 {
			m.v[i] = scl(-0.98, p)
		}
	}
	s := m.selfIntersection()
	t.Logf("folded cap: measure %.0f (limit %d)", s, selfIntersectionLimit)
	if s <= selfIntersectionLimit {
		t.Errorf("folded surface measure %.0f ≤ limit %d", s, selfIntersectionLimit)
	}
}
