package volume_test

import (
	"math"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// ParseCodes accepts exactly the 48 orientations (any letter case) and
// round-trips them through Ornt and String.
func FuzzParseCodes(f *testing.F) {
	for _, s := range []string{"RAS", "lps", "LIA", "RRS", "", "RA", "XYZ", "R?S", "rAs", "\x00AS"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := volume.ParseCodes(s)
		if err != nil {
			return
		}
		o, err := c.Ornt()
		if err != nil {
			t.Fatalf("ParseCodes(%q) = %v whose Ornt fails: %v", s, c, err)
		}
		if o.Codes() != c || len(c.String()) != 3 {
			t.Fatalf("ParseCodes(%q) = %v does not round-trip (%v)", s, c, o.Codes())
		}
		back, err := volume.ParseCodes(c.String())
		if err != nil || back != c {
			t.Fatalf("ParseCodes(%q) = %v, %v", c.String(), back, err)
		}
	})
}

// Any affine, including singular and non-finite ones, gets an orientation
// without panicking; a finite invertible one gets a full permutation, and
// reorienting a small volume to RAS then yields RAS codes.
func FuzzIOOrientation(f *testing.F) {
	f.Add(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
	f.Add(-2.0, 0.1, 0.0, 0.05, 1.2, 0.2, 0.0, -0.1, 2.5)
	f.Add(1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
	f.Add(math.NaN(), 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
	f.Fuzz(func(t *testing.T, a00, a01, a02, a10, a11, a12, a20, a21, a22 float64) {
		a := volume.Affine{{a00, a01, a02, 0}, {a10, a11, a12, 0}, {a20, a21, a22, 0}, {0, 0, 0, 1}}
		o := volume.IOOrientation(a)
		for _, x := range o {
			if x.World < -1 || x.World > 2 {
				t.Fatalf("IOOrientation(%v) = %v", a, o)
			}
		}
		v, _ := volume.New([3]int{2, 3, 4}, a)
		r, err := v.Canonical()
		if err != nil {
			return
		}
		if !a.IsFinite() {
			t.Fatalf("non-finite affine %v reoriented", a)
		}
		if c := r.AxCodes(); c != volume.RAS {
			// Reorientation permutes columns exactly, so the greedy
			// matching sees the same matrix up to column order; only
			// nearly tied columns may come out differently.
			if _, err := a.Inverse(); err == nil && wellConditioned(a) {
				t.Fatalf("affine %v (%v) reoriented to %v", a, v.AxCodes(), c)
			}
		}
	})
}

// wellConditioned reports whether a's columns are nearly orthogonal and
// each has one entry clearly the largest, on distinct world axes, so that
// the nearest axes are unambiguous. (Exactly tied columns, such as mirror
// images, may legitimately be matched differently once permuted: nibabel
// breaks ties by column index.)
func wellConditioned(a volume.Affine) bool {
	var cols [3][3]float64
	var used [3]bool
	for c := 0; c < 3; c++ {
		n := math.Sqrt(a[0][c]*a[0][c] + a[1][c]*a[1][c] + a[2][c]*a[2][c])
		if !(n > 0) {
			return false
		}
		top := 0
		for r := 0; r < 3; r++ {
			cols[c][r] = a[r][c] / n
			if math.Abs(cols[c][r]) > math.Abs(cols[c][top]) {
				top = r
			}
		}
		for r := 0; r < 3; r++ {
			if r != top && math.Abs(cols[c][r]) > 0.9*math.Abs(cols[c][top]) {
				return false
			}
		}
		if used[top] {
			return false
		}
		used[top] = true
	}
	for c := 0; c < 3; c++ {
		for d := c + 1; d < 3; d++ {
			dot := cols[c][0]*cols[d][0] + cols[c][1]*cols[d][1] + cols[c][2]*cols[d][2]
			if math.Abs(dot) > 0.1 {
				return false
			}
		}
	}
	return true
}

// dataRange returns the smallest and largest voxel value.
func dataRange(v *volume.Volume) (lo, hi float32) {
	lo, hi = v.Data[0], v.Data[0]
	for _, x := range v.Data {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// fuzzVolume builds a small volume whose values come from seed.
func fuzzVolume(nx, ny, nz uint8, seed uint64) *volume.Volume {
	dims := [3]int{1 + int(nx%9), 1 + int(ny%9), 1 + int(nz%9)}
	v, _ := volume.New(dims, volume.Identity())
	for i := range v.Data {
		seed = seed*6364136223846793005 + 1442695040888963407
		v.Data[i] = float32(int32(seed>>40)) / 1024
	}
	return v
}

// Resampling through any voxel map never panics, and every value is a
// convex combination of voxels (within their range) or the fill.
func FuzzResample(f *testing.F) {
	f.Add(uint8(4), uint8(5), uint8(3), uint64(1), 0.9, 0.1, -0.2, 0.3, 1.1, 0.0, 0.0, 0.2, 0.8, 0.5, -1.0, 2.0, uint8(0))
	f.Add(uint8(1), uint8(1), uint8(1), uint64(7), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, uint8(3))
	f.Add(uint8(8), uint8(2), uint8(6), uint64(9), -1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 7.0, 0.0, 5.0, uint8(1))
	f.Fuzz(func(t *testing.T, nx, ny, nz uint8, seed uint64, m00, m01, m02, m10, m11, m12, m20, m21, m22, t0, t1, t2 float64, mode uint8) {
		src := fuzzVolume(nx, ny, nz, seed)
		dst := fuzzVolume(nz, nx, ny, seed+1)
		vox := volume.Affine{{m00, m01, m02, t0}, {m10, m11, m12, t1}, {m20, m21, m22, t2}, {0, 0, 0, 1}}
		s := volume.Sampler{Interp: volume.Interp(mode & 1), Boundary: volume.Boundary(mode >> 1 & 1), Fill: -12345}
		if err := volume.ResampleInto(dst, src, vox, s); err != nil {
			return
		}
		lo, hi := dataRange(src)
		for i, x := range dst.Data {
			if x == s.Fill && s.Boundary == volume.Constant {
				continue
			}
			if !(x >= lo-1e-3*(1+abs32(lo)) && x <= hi+1e-3*(1+abs32(hi))) {
				t.Fatalf("%+v voxel %d = %g outside the data range [%g, %g]", s, i, x, lo, hi)
			}
		}
	})
}

// Resizing to any dims never panics and stays within the data range.
func FuzzResize(f *testing.F) {
	f.Add(uint8(5), uint8(4), uint8(3), uint64(3), uint8(9), uint8(2), uint8(7), uint8(0))
	f.Add(uint8(1), uint8(1), uint8(1), uint64(4), uint8(1), uint8(8), uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, nx, ny, nz uint8, seed uint64, ox, oy, oz, mode uint8) {
		v := fuzzVolume(nx, ny, nz, seed)
		dims := [3]int{1 + int(ox%20), 1 + int(oy%20), 1 + int(oz%20)}
		m := volume.ResizeMode(mode % 3)
		r, err := v.Resize(dims, m)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := dataRange(v)
		for i, x := range r.Data {
			if !(x >= lo-1e-3*(1+abs32(lo)) && x <= hi+1e-3*(1+abs32(hi))) {
				t.Fatalf("%v %v→%v voxel %d = %g outside [%g, %g]", m, v.Dims, dims, i, x, lo, hi)
			}
		}
	})
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
