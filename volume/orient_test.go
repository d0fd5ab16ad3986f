package volume_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

func aff3(m [3][3]float64, t [3]float64) volume.Affine {
	var a volume.Affine
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			a[r][c] = m[r][c]
		}
		a[r][3] = t[r]
	}
	a[3][3] = 1
	return a
}

func ornt(rows ...[2]int) volume.Ornt {
	var o volume.Ornt
	for i, r := range rows {
		o[i] = volume.AxisOrientation{World: r[0], Flip: r[1]}
	}
	return o
}

// The cases of nibabel's test_io_orientation (IN_ARRS → OUT_ORNTS),
// including every single-axis flip of each.
func TestIOOrientationNibabelCases(t *testing.T) {
	c, s := math.Cos, math.Sin
	type tc struct {
		m    [3][3]float64
		want volume.Ornt
	}
	cases := []tc{
		{[3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, ornt([2]int{0, 1}, [2]int{1, 1}, [2]int{2, 1})},
		{[3][3]float64{{0, 0, 1}, {0, 1, 0}, {1, 0, 0}}, ornt([2]int{2, 1}, [2]int{1, 1}, [2]int{0, 1})},
		{[3][3]float64{{0, 1, 0}, {0, 0, 1}, {1, 0, 0}}, ornt([2]int{2, 1}, [2]int{0, 1}, [2]int{1, 1})},
		{[3][3]float64{{3, 1, 0}, {1, 3, 0}, {0, 0, 1}}, ornt([2]int{0, 1}, [2]int{1, 1}, [2]int{2, 1})},
		{[3][3]float64{{1, 3, 0}, {3, 1, 0}, {0, 0, 1}}, ornt([2]int{1, 1}, [2]int{0, 1}, [2]int{2, 1})},
	}
	wants := []volume.Ornt{
		ornt([2]int{0, 1}, [2]int{1, 1}, [2]int{2, 1}),
		ornt([2]int{1, -1}, [2]int{0, 1}, [2]int{2, 1}),
		ornt([2]int{0, -1}, [2]int{1, -1}, [2]int{2, 1}),
		ornt([2]int{1, 1}, [2]int{0, -1}, [2]int{2, 1}),
	}
	for i := 0; i < 4; i++ {
		th := math.Pi/6 + float64(i)*math.Pi/2
		cases = append(cases, tc{[3][3]float64{{c(th), s(th), 0}, {-s(th), c(th), 0}, {0, 0, 1}}, wants[i]})
	}
	for n, k := range cases {
		a := aff3(k.m, [3]float64{})
		if got := volume.IOOrientation(a); got != k.want {
			t.Errorf("case %d: IOOrientation = %v, want %v", n, got, k.want)
		}
		for ax := 0; ax < 3; ax++ {
			f := a
			want := k.want
			for r := 0; r < 3; r++ {
				f[r][ax] = -f[r][ax]
			}
			want[ax].Flip = -want[ax].Flip
			if got := volume.IOOrientation(f); got != want {
				t.Errorf("case %d flip %d: IOOrientation = %v, want %v", n, ax, got, want)
			}
		}
	}
}

// nibabel's thresholding test: a second column that differs from the first
// by less than the SVD tolerance leaves the y axis dropped.
func TestIOOrientationTolerance(t *testing.T) {
	eps := 0x1p-52
	for _, k := range []struct {
		y    float64
		hasY bool
	}{{0, false}, {eps, false}, {5 * eps, false}, {10 * eps, true}} {
		a := aff3([3][3]float64{{1, 1, 0}, {0, k.y, 0}, {0, 0, 1}}, [3]float64{})
		got := volume.IOOrientation(a)
		want := ornt([2]int{0, 1}, [2]int{-1, 0}, [2]int{2, 1})
		if k.hasY {
			want = ornt([2]int{0, 1}, [2]int{1, 1}, [2]int{2, 1})
		}
		if got != want {
			t.Errorf("y=%g: IOOrientation = %v, want %v", k.y, got, want)
		}
		if !k.hasY {
			if c := volume.AxCodes(a).String(); c != "R?S" {
				t.Errorf("y=%g: AxCodes = %s, want R?S", k.y, c)
			}
			v, _ := volume.New([3]int{2, 2, 2}, a)
			if _, err := v.Reorient(volume.RAS); err == nil {
				t.Errorf("y=%g: reorienting a volume with a dropped axis succeeded", k.y)
			}
		}
	}
}

// nibabel's test_io_orientation_column_strength_regression: an oblique IAR
// affine (nibabel issue #1449) reoriented to RAS must read as RAS.
func TestIOOrientationColumnStrength(t *testing.T) {
	a := volume.Affine{
		{2.08759499e00, 7.70245194e-02, 1.12271041e-01, -1.67531357e01},
		{-1.04219818e00, 1.58019245e-01, -5.34135476e-02, 1.22405062e01},
		{-2.33361936e00, -1.66752085e-03, 1.24289364e-01, -1.09963446e01},
		{0, 0, 0, 1},
	}
	if got := volume.AxCodes(a).String(); got != "IAR" {
		t.Fatalf("AxCodes = %s, want IAR", got)
	}
	v, _ := volume.New([3]int{2, 3, 4}, a)
	r, err := v.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if r.Dims != [3]int{4, 3, 2} || r.AxCodes() != volume.RAS {
		t.Fatalf("canonical: dims %v codes %s, want [4 3 2] RAS", r.Dims, r.AxCodes())
	}
}

// Published examples of nibabel's docstrings and tests for codes ↔ ornt.
func TestCodesOrnt(t *testing.T) {
	if got := volume.AxCodes(volume.Affine{{0, 1, 0, 10}, {-1, 0, 0, 20}, {0, 0, 1, 30}, {0, 0, 0, 1}}); got.String() != "PRS" {
		t.Errorf("aff2axcodes docstring example = %s, want PRS", got)
	}
	for _, k := range []struct {
		codes string
		o     volume.Ornt
	}{
		{"RAS", ornt([2]int{0, 1}, [2]int{1, 1}, [2]int{2, 1})},
		{"LPI", ornt([2]int{0, -1}, [2]int{1, -1}, [2]int{2, -1})},
		{"IPL", ornt([2]int{2, -1}, [2]int{1, -1}, [2]int{0, -1})},
		{"AIR", ornt([2]int{1, 1}, [2]int{2, -1}, [2]int{0, 1})},
	} {
		c, err := volume.ParseCodes(k.codes)
		if err != nil {
			t.Fatal(err)
		}
		o, err := c.Ornt()
		if err != nil || o != k.o {
			t.Errorf("%s.Ornt() = %v, %v; want %v", k.codes, o, err, k.o)
		}
		if o.Codes().String() != k.codes {
			t.Errorf("%v.Codes() = %s, want %s", o, o.Codes(), k.codes)
		}
	}
	for _, bad := range []string{"", "RA", "RASS", "RRS", "RLS", "XAS", "R S"} {
		if _, err := volume.ParseCodes(bad); err == nil {
			t.Errorf("ParseCodes(%q) succeeded", bad)
		}
	}
	if c, err := volume.ParseCodes("lpi"); err != nil || c.String() != "LPI" {
		t.Errorf("ParseCodes(lpi) = %v, %v", c, err)
	}
}

// nibabel's test_ornt_transform cases.
func TestOrntTransform(t *testing.T) {
	got, err := volume.OrntTransform(ornt([2]int{0, 1}, [2]int{1, 1}, [2]int{2, -1}), ornt([2]int{1, 1}, [2]int{0, 1}, [2]int{2, 1}))
	if want := ornt([2]int{1, 1}, [2]int{0, 1}, [2]int{2, -1}); err != nil || got != want {
		t.Errorf("ornt_transform 1 = %v, %v; want %v", got, err, want)
	}
	got, err = volume.OrntTransform(ornt([2]int{0, 1}, [2]int{1, 1}, [2]int{2, 1}), ornt([2]int{2, 1}, [2]int{0, -1}, [2]int{1, 1}))
	if want := ornt([2]int{1, -1}, [2]int{2, 1}, [2]int{0, 1}); err != nil || got != want {
		t.Errorf("ornt_transform 2 = %v, %v; want %v", got, err, want)
	}
	if _, err := volume.OrntTransform(ornt([2]int{0, 1}, [2]int{1, 1}, [2]int{1, 1}), ornt([2]int{0, 1}, [2]int{1, 1}, [2]int{2, 1})); err == nil {
		t.Error("ornt_transform with a missing target axis succeeded")
	}
}

// rotation returns the rotation by angle th about the unit axis u.
func rotation(u [3]float64, th float64) [3][3]float64 {
	n := math.Sqrt(u[0]*u[0] + u[1]*u[1] + u[2]*u[2])
	x, y, z := u[0]/n, u[1]/n, u[2]/n
	c, s, C := math.Cos(th), math.Sin(th), 1-math.Cos(th)
	return [3][3]float64{
		{c + x*x*C, x*y*C - z*s, x*z*C + y*s},
		{y*x*C + z*s, c + y*y*C, y*z*C - x*s},
		{z*x*C - y*s, z*y*C + x*s, c + z*z*C},
	}
}

func matMul(a, b [3][3]float64) [3][3]float64 {
	var c [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				c[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return c
}

// allCodes lists the 48 orientations (permutations × flips).
func allCodes() []volume.Codes {
	var out []volume.Codes
	perms := [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	for _, p := range perms {
		for f := 0; f < 8; f++ {
			var o volume.Ornt
			for a := 0; a < 3; a++ {
				o[a] = volume.AxisOrientation{World: p[a], Flip: 1 - 2*(f>>a&1)}
			}
			out = append(out, o.Codes())
		}
	}
	return out
}

// signedPerm returns the matrix whose column a is Flip·e_World.
func signedPerm(o volume.Ornt) [3][3]float64 {
	var m [3][3]float64
	for a, x := range o {
		m[x.World][a] = float64(x.Flip)
	}
	return m
}

// Oblique affines: a rotation by less than 45° (so the nearest axes are
// unambiguous: every entry of the rotated signed permutation keeps the
// largest magnitude in its column after greedy matching) applied to any of
// the 48 axis-aligned orientations, with anisotropic zooms and a shear-free
// scaling, must give the codes of that orientation.
func TestAxCodesOblique(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, codes := range allCodes() {
		o, _ := codes.Ornt()
		for trial := 0; trial < 20; trial++ {
			u := [3]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
			th := (rng.Float64()*2 - 1) * 0.5 // |θ| < 0.5 rad < 45°/√2 per axis
			m := matMul(rotation(u, th), signedPerm(o))
			z := [3]float64{0.5 + 2*rng.Float64(), 0.5 + 2*rng.Float64(), 0.5 + 2*rng.Float64()}
			for r := 0; r < 3; r++ {
				for c := 0; c < 3; c++ {
					m[r][c] *= z[c]
				}
			}
			a := aff3(m, [3]float64{rng.NormFloat64() * 50, rng.NormFloat64() * 50, rng.NormFloat64() * 50})
			if got := volume.AxCodes(a); got != codes {
				t.Fatalf("rotation %.3f about %v of %s: AxCodes = %s", th, u, codes, got)
			}
		}
	}
}

// dyadicAffine returns a random affine of orientation o whose entries are
// multiples of 1/8, so that every product in reorientation is exact.
func dyadicAffine(rng *rand.Rand, o volume.Ornt) volume.Affine {
	m := signedPerm(o)
	for c := 0; c < 3; c++ {
		z := float64(1+rng.IntN(24)) / 8
		for r := 0; r < 3; r++ {
			m[r][c] *= z
		}
	}
	return aff3(m, [3]float64{float64(rng.IntN(2000)-1000) / 8, float64(rng.IntN(2000)-1000) / 8, float64(rng.IntN(2000)-1000) / 8})
}

func randomVolume(rng *rand.Rand, dims [3]int, a volume.Affine) *volume.Volume {
	v, err := volume.New(dims, a)
	if err != nil {
		panic(err)
	}
	for i := range v.Data {
		v.Data[i] = float32(rng.NormFloat64())
	}
	return v
}

// Reorienting from every orientation to every other and back restores the
// data and the affine exactly, every voxel keeps its value at the same world
// position, and the result has the requested codes.
func TestReorientRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	codes := allCodes()
	for _, from := range codes {
		o, _ := from.Ornt()
		dims := [3]int{2 + rng.IntN(5), 2 + rng.IntN(5), 2 + rng.IntN(5)}
		v := randomVolume(rng, dims, dyadicAffine(rng, o))
		if v.AxCodes() != from {
			t.Fatalf("test affine has codes %s, want %s", v.AxCodes(), from)
		}
		for _, to := range codes {
			r, err := v.Reorient(to)
			if err != nil {
				t.Fatal(err)
			}
			if r.AxCodes() != to {
				t.Fatalf("%s→%s: result has codes %s", from, to, r.AxCodes())
			}
			checkSameWorld(t, v, r)
			back, err := r.Reorient(from)
			if err != nil {
				t.Fatal(err)
			}
			if back.Dims != v.Dims || back.Affine != v.Affine {
				t.Fatalf("%s→%s→%s: dims %v affine %v, want %v %v", from, to, from, back.Dims, back.Affine, v.Dims, v.Affine)
			}
			for i := range v.Data {
				if math.Float32bits(back.Data[i]) != math.Float32bits(v.Data[i]) {
					t.Fatalf("%s→%s→%s: voxel %d = %g, want %g", from, to, from, i, back.Data[i], v.Data[i])
				}
			}
		}
	}
}

// checkSameWorld verifies that every voxel of r holds the value of the
// voxel of v at exactly the same world position (affines must be dyadic).
func checkSameWorld(t *testing.T, v, r *volume.Volume) {
	t.Helper()
	inv, err := v.Affine.Inverse()
	if err != nil {
		t.Fatal(err)
	}
	m := inv.Mul(r.Affine)
	for k := 0; k < r.Dims[2]; k++ {
		for j := 0; j < r.Dims[1]; j++ {
			for i := 0; i < r.Dims[0]; i++ {
				p := m.Apply([3]float64{float64(i), float64(j), float64(k)})
				var idx [3]int
				for a := range p {
					idx[a] = int(math.Round(p[a]))
					if math.Abs(p[a]-float64(idx[a])) > 1e-9 || idx[a] < 0 || idx[a] >= v.Dims[a] {
						t.Fatalf("voxel (%d,%d,%d) of the reoriented volume maps to %v of the original", i, j, k, p)
					}
				}
				// With dyadic affines both world positions are exact.
				wr := r.Affine.Apply([3]float64{float64(i), float64(j), float64(k)})
				wv := v.Affine.Apply([3]float64{float64(idx[0]), float64(idx[1]), float64(idx[2])})
				if wr != wv {
					t.Fatalf("voxel (%d,%d,%d) at world %v, original voxel %v at %v", i, j, k, wr, idx, wv)
				}
				if r.At(i, j, k) != v.At(idx[0], idx[1], idx[2]) {
					t.Fatalf("voxel (%d,%d,%d) = %g, original voxel %v = %g", i, j, k, r.At(i, j, k), idx, v.At(idx[0], idx[1], idx[2]))
				}
			}
		}
	}
}

// On an oblique, non-dyadic affine the world position of every voxel is
// kept to rounding, and a round trip restores the data exactly.
func TestReorientOblique(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	m := matMul(rotation([3]float64{1, 2, 3}, 0.3), signedPerm(volume.Ornt{{2, -1}, {0, 1}, {1, -1}}))
	a := aff3(m, [3]float64{12.3, -45.6, 78.9})
	v := randomVolume(rng, [3]int{5, 6, 7}, a)
	r, err := v.Reorient(volume.LPS)
	if err != nil {
		t.Fatal(err)
	}
	for _, corner := range [][3]float64{{0, 0, 0}, {4, 0, 0}, {0, 5, 6}, {4, 5, 6}} {
		w := v.Affine.Apply(corner)
		inv, _ := r.Affine.Inverse()
		p := inv.Apply(w)
		for a := range p {
			if math.Abs(p[a]-math.Round(p[a])) > 1e-9 {
				t.Fatalf("corner %v lands at %v in the reoriented grid", corner, p)
			}
		}
	}
	back, _ := r.Reorient(v.AxCodes())
	for i := range v.Data {
		if back.Data[i] != v.Data[i] {
			t.Fatal("oblique round trip changed the data")
		}
	}
	for rr := 0; rr < 4; rr++ {
		for c := 0; c < 4; c++ {
			if math.Abs(back.Affine[rr][c]-v.Affine[rr][c]) > 1e-12 {
				t.Fatalf("oblique round trip affine %v, want %v", back.Affine, v.Affine)
			}
		}
	}
}

func TestApplyOrntErrors(t *testing.T) {
	v, _ := volume.New([3]int{2, 3, 4}, volume.Identity())
	for _, bad := range []volume.Ornt{
		{{0, 1}, {0, 1}, {2, 1}},
		{{0, 1}, {1, 0}, {2, 1}},
		{{0, 1}, {1, 1}, {3, 1}},
		{{-1, 1}, {1, 1}, {2, 1}},
	} {
		if _, err := v.ApplyOrnt(bad); err == nil {
			t.Errorf("ApplyOrnt(%v) succeeded", bad)
		}
	}
	short := &volume.Volume{Dims: [3]int{2, 3, 4}, Affine: volume.Identity(), Data: make([]float32, 5)}
	if _, err := short.Reorient(volume.LPS); err == nil {
		t.Error("reorienting a volume with too little data succeeded")
	}
}
