package volume

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randomData(r *rand.Rand, dims [3]int) []float32 {
	d := make([]float32, dims[0]*dims[1]*dims[2])
	for i := range d {
		d[i] = float32(r.NormFloat64())
	}
	return d
}

func TestBSplineInterpolatesSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, dims := range [][3]int{{7, 5, 4}, {40, 3, 2}, {1, 6, 30}, {2, 2, 2}} {
		data := randomData(r, dims)
		g := gridOf(bsplinePrefilter(data, dims), dims)
		for k := 0; k < dims[2]; k++ {
			for j := 0; j < dims[1]; j++ {
				for i := 0; i < dims[0]; i++ {
					v := g.bspline(float64(i), float64(j), float64(k))
					want := float64(data[i+dims[0]*(j+dims[1]*k)])
					if math.Abs(v-want) > 2e-5 {
						t.Fatalf("dims %v voxel (%d,%d,%d): %g, want %g", dims, i, j, k, v, want)
					}
				}
			}
		}
	}
}

func TestBSplineReproducesCubicsInside(t *testing.T) {
	dims := [3]int{60, 50, 55}
	f := func(x, y, z float64) float64 {
		return 0.001*x*x*x - 0.01*x*y + 0.002*z*z*y + 0.5*z - 3
	}
	data := make([]float32, dims[0]*dims[1]*dims[2])
	for k := 0; k < dims[2]; k++ {
		for j := 0; j < dims[1]; j++ {
			for i := 0; i < dims[0]; i++ {
				data[i+dims[0]*(j+dims[1]*k)] = float32(f(float64(i), float64(j), float64(k)))
			}
		}
	}
	g := gridOf(bsplinePrefilter(data, dims), dims)
	r := rand.New(rand.NewPCG(2, 2))
	for n := 0; n < 200; n++ {
		x, y, z := 20+r.Float64()*20, 20+r.Float64()*10, 20+r.Float64()*15
		v, gr := g.bsplineGrad(x, y, z)
		if want := f(x, y, z); math.Abs(v-want) > 1e-3*(1+math.Abs(want)) {
			t.Fatalf("(%g,%g,%g): %g, want %g", x, y, z, v, want)
		}
		gx := 0.003*x*x - 0.01*y
		if math.Abs(gr[0]-gx) > 1e-3*(1+math.Abs(gx)) {
			t.Fatalf("d/dx at (%g,%g,%g): %g, want %g", x, y, z, gr[0], gx)
		}
		if v2 := g.bspline(x, y, z); math.Abs(v2-v) > 1e-9 {
			t.Fatalf("bspline and bsplineGrad disagree: %g vs %g", v2, v)
		}
	}
}

func TestInterpolatorGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	dims := [3]int{9, 8, 7}
	data := randomData(r, dims)
	lin := gridOf(data, dims)
	bs := gridOf(bsplinePrefilter(data, dims), dims)
	const h = 1e-6
	for n := 0; n < 300; n++ {
		p := [3]float64{0.5 + r.Float64()*7, 0.5 + r.Float64()*6, 0.5 + r.Float64()*5}
		vl, gl := lin.trilinear(p[0], p[1], p[2], true)
		vb, gb := bs.bsplineGrad(p[0], p[1], p[2])
		if math.Abs(vl-lin.linear(p[0], p[1], p[2])) > 1e-12 {
			t.Fatal("linear and trilinear with gradient disagree")
		}
		for a := 0; a < 3; a++ {
			pp, pm := p, p
			pp[a] += h
			pm[a] -= h
			fl := (lin.linear(pp[0], pp[1], pp[2]) - lin.linear(pm[0], pm[1], pm[2])) / (2 * h)
			fb := (bs.bspline(pp[0], pp[1], pp[2]) - bs.bspline(pm[0], pm[1], pm[2])) / (2 * h)
			if math.Abs(fl-gl[a]) > 1e-5 || math.Abs(fb-gb[a]) > 1e-5 {
				t.Fatalf("axis %d at %v: linear %g vs fd %g, bspline %g vs fd %g (values %g %g)", a, p, gl[a], fl, gb[a], fb, vl, vb)
			}
		}
	}
}

func TestMirror(t *testing.T) {
	for _, c := range []struct{ k, n, want int }{{-1, 5, 1}, {-2, 5, 2}, {5, 5, 3}, {6, 5, 2}, {-9, 5, 1}, {3, 1, 0}, {-1, 2, 1}, {2, 2, 0}} {
		if got := mirror(c.k, c.n); got != c.want {
			t.Errorf("mirror(%d,%d) = %d, want %d", c.k, c.n, got, c.want)
		}
	}
}
