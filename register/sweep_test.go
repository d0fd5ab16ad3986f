package register

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metasurv/metasurv/internal/parallel"
	"github.com/metasurv/metasurv/volume"
)

// The registration sweep (issue 16): clinical-looking moving images made
// from the real scans of ../shared/testdata with a known rigid motion.
//
// A case moves the fixed scan's anatomy by a known rigid transform T
// (fixed world → moving world), maps its intensities through a contrast
// map (T1 → T1, inverted, T2-like, FLAIR-like: the last two are
// non-monotonic), optionally plants a lesion whose appearance differs
// between the fixed and the moving image, and acquires the moving image
// on its own grid: in-plane spacing, slice thickness and slice spacing
// (a gap when the spacing exceeds the thickness), each voxel the average
// of the cubic B-spline image over its slice profile (not a point
// sample), possibly with a partial field of view. A smooth multiplicative
// bias field (± Bias) and Rician noise finish it. The error is the mean
// distance between the recovered and the true transform of the points of
// the fixed brain mask (ch2bet for ch2).
//
// `go test` runs the cases marked fast; METASURV_REGISTER_SWEEP=1 runs all
// of them, and with METASURV_REGISTER_ELASTIX=1 also elastix on the same
// pairs (see sweep_elastix_test.go).

// sweepCase describes one moving image.
type sweepCase struct {
	name     string
	subject  string     // "ch2" or "inia19"
	angles   [3]float64 // degrees
	shift    [3]float64 // mm
	contrast string     // same, inverted, t2, flair
	bias     float64    // field amplitude: the field spans 1 ± bias
	noise    float64    // Rician σ as a fraction of the 99th percentile
	spacing  [3]float64 // moving voxel spacing; zero means 1 mm isotropic
	thick    float64    // slice thickness along axis 2; 0 means spacing[2]
	// sliceAxis is the world axis (0 x, 1 y, 2 z) across the slices.
	sliceAxis int
	// fov keeps the fraction [lo, hi] of the head's extent along the
	// slice axis; zero means all of it.
	fov    [2]float64
	lesion bool
	fast   bool // part of the `go test` subset
}

// clinicalCases lists the sweep. The motions reach 20° and 30 mm.
func clinicalCases() []sweepCase {
	m := []struct{ a, s [3]float64 }{
		{[3]float64{3, 0, -2}, [3]float64{2, -3, 1}},
		{[3]float64{6, -5, 6}, [3]float64{8, -10, 6}},
		{[3]float64{-10, 8, 5}, [3]float64{-12, 9, -8}},
		{[3]float64{20, 0, 0}, [3]float64{0, 0, 30}},
		{[3]float64{0, -20, 0}, [3]float64{30, 0, 0}},
		{[3]float64{-12, 12, 12}, [3]float64{-17, 17, 17}},
	}
	var cs []sweepCase
	add := func(c sweepCase) {
		if c.subject == "" {
			c.subject = "ch2"
		}
		cs = append(cs, c)
	}
	// Isotropic 1 mm, every contrast, noise and bias.
	for _, con := range []string{"same", "inverted", "t2", "flair"} {
		for _, i := range []int{1, 3, 5} {
			mo := m[i]
			add(sweepCase{name: fmt.Sprintf("iso-%s-%d", con, i), angles: mo.a, shift: mo.s, contrast: con,
				bias: 0.3, noise: 0.03, sliceAxis: 2, fast: i == 3 && con == "t2"})
		}
	}
	// Thick slices with their slice profile.
	thick := []struct {
		name  string
		sp    [3]float64
		thick float64
		axis  int
	}{
		{"1x1x3", [3]float64{1, 1, 3}, 3, 2},
		{"0.5x0.5x5", [3]float64{0.5, 0.5, 5}, 5, 2},
		{"5mm-gap1.5", [3]float64{0.9, 0.9, 6.5}, 5, 2},
		{"sag-1x1x4", [3]float64{1, 1, 4}, 4, 0},
	}
	for _, th := range thick {
		for _, con := range []string{"t2", "flair"} {
			for _, i := range []int{3, 5} {
				mo := m[i]
				add(sweepCase{name: fmt.Sprintf("thick-%s-%s-%d", th.name, con, i), angles: mo.a, shift: mo.s, contrast: con,
					bias: 0.3, noise: 0.03, spacing: th.sp, thick: th.thick, sliceAxis: th.axis,
					fast: i == 3 && con == "t2" && th.name == "0.5x0.5x5"})
			}
		}
	}
	// Partial field of view: vertex cut off, cerebellum cut off, a slab.
	for _, f := range []struct {
		name string
		fov  [2]float64
	}{{"novertex", [2]float64{0, 0.75}}, {"nocerebellum", [2]float64{0.35, 1}}, {"slab", [2]float64{0.3, 0.8}}} {
		for _, i := range []int{4} {
			mo := m[i]
			add(sweepCase{name: fmt.Sprintf("fov-%s-t2-%d", f.name, i), angles: mo.a, shift: mo.s, contrast: "t2",
				bias: 0.3, noise: 0.03, spacing: [3]float64{1, 1, 3}, thick: 3, sliceAxis: 2, fov: f.fov,
				fast: i == 4 && f.name == "slab"})
		}
	}
	// Lesion with edema, different in the fixed (T1c) and moving images.
	for _, con := range []string{"t2", "flair", "same"} {
		for _, i := range []int{3} {
			mo := m[i]
			add(sweepCase{name: fmt.Sprintf("lesion-%s-%d", con, i), angles: mo.a, shift: mo.s, contrast: con,
				bias: 0.3, noise: 0.03, spacing: [3]float64{1, 1, 4}, thick: 4, sliceAxis: 2, lesion: true,
				fast: false})
		}
	}
	// The clinical worst case of issue 16: T2 with 0.5×0.5×5 slices, a
	// lesion, a cut-off vertex, strong bias.
	add(sweepCase{name: "clinical-t2-lesion-0.5x0.5x5-novertex", angles: [3]float64{-8, 6, 10}, shift: [3]float64{-10, 8, 10},
		contrast: "t2", bias: 0.3, noise: 0.04, spacing: [3]float64{0.5, 0.5, 5}, thick: 5, sliceAxis: 2,
		fov: [2]float64{0, 0.8}, lesion: true, fast: true})
	// A second real brain: the INIA19 macaque template (0.5 mm).
	for i, mo := range []struct{ a, s [3]float64 }{
		{[3]float64{10, -6, 8}, [3]float64{6, -5, 4}},
		{[3]float64{0, 20, 0}, [3]float64{-8, 0, 8}},
	} {
		con := []string{"same", "t2"}[i]
		{
			add(sweepCase{name: fmt.Sprintf("inia19-%s-%d", con, i), subject: "inia19", angles: mo.a, shift: mo.s,
				contrast: con, bias: 0.3, noise: 0.03, spacing: [3]float64{0.5, 0.5, 1.5}, thick: 1.5, sliceAxis: 2,
				fast: i == 1 && con == "t2"})
		}
	}
	return cs
}

// subject is a real scan with its brain mask and intensity landmarks.
type subject struct {
	head  *volume.Volume // the fixed image source (with skull for ch2)
	brain *volume.Volume // brain mask (1 inside) on head's grid
	// csf, gm, wm, fat are typical intensities of the tissue classes,
	// used by the contrast maps.
	csf, gm, wm, fat float64
}

var subjects struct {
	sync.Mutex
	m map[string]*subject
}

func loadSubject(t testing.TB, name string) *subject {
	t.Helper()
	subjects.Lock()
	defer subjects.Unlock()
	if s, ok := subjects.m[name]; ok {
		return s
	}
	var s subject
	switch name {
	case "ch2":
		s.head = loadFixtureVolume(t, "ch2.nii.gz")
		s.brain = loadFixtureVolume(t, "ch2bet.nii.gz")
		// ch2: CSF ≈ 20–45, grey matter ≈ 70–85, white matter ≈ 105–120,
		// scalp fat up to 254.
		s.csf, s.gm, s.wm, s.fat = 30, 78, 112, 180
	case "inia19":
		s.head = loadFixtureVolume(t, "inia19-t1-brain.nii.gz")
		s.brain = s.head
		s.csf, s.gm, s.wm, s.fat = 40, 85, 115, 250
	default:
		t.Fatalf("unknown subject %q", name)
	}
	b := s.brain.Clone()
	for i, v := range b.Data {
		if v != 0 {
			b.Data[i] = 1
		}
	}
	s.brain = b
	if subjects.m == nil {
		subjects.m = map[string]*subject{}
	}
	subjects.m[name] = &s
	return &s
}

// contrastMap returns the piecewise-linear intensity map of a contrast on
// a subject's T1 intensities: knots (x, y).
func (s *subject) contrastMap(con string) (xs, ys []float64) {
	switch con {
	case "same":
		return []float64{0, 1}, []float64{0, 1}
	case "inverted": // tissue inverted, air stays dark as in any MRI
		return []float64{0, 0.4 * s.csf, 2 * s.fat}, []float64{5, 2*s.fat - 0.4*s.csf, 0}
	case "t2": // CSF bright, GM above WM, fat bright again: non-monotonic.
		return []float64{0, 0.4 * s.csf, s.csf, (s.csf + s.gm) / 2, s.gm, s.wm, (s.wm + s.fat) / 2, s.fat, 2 * s.fat},
			[]float64{5, 20, 200, 170, 120, 70, 90, 180, 190}
	case "flair": // CSF dark, GM above WM, fat bright.
		return []float64{0, 0.4 * s.csf, s.csf, (s.csf + s.gm) / 2, s.gm, s.wm, (s.wm + s.fat) / 2, s.fat, 2 * s.fat},
			[]float64{5, 10, 25, 60, 140, 100, 110, 170, 180}
	}
	panic("unknown contrast " + con)
}

func piecewiseLinear(x float64, xs, ys []float64) float64 {
	if x <= xs[0] {
		return ys[0] + (x-xs[0])*(ys[1]-ys[0])/(xs[1]-xs[0])
	}
	for i := 1; i < len(xs); i++ {
		if x <= xs[i] {
			f := (x - xs[i-1]) / (xs[i] - xs[i-1])
			return ys[i-1] + f*(ys[i]-ys[i-1])
		}
	}
	n := len(xs) - 1
	return ys[n] + (x-xs[n])*(ys[n]-ys[n-1])/(xs[n]-xs[n-1])
}

// lesion is a metastasis with a necrotic core, an enhancing rim and
// perifocal edema, in world mm of the fixed image.
type lesion struct {
	center               [3]float64
	core, rim, edema     float64 // outer radii, mm
	lobes                [3][3]float64
	t1cCore, t1cRim      float64 // fixed (T1c) intensities
	t1cEdemaFactor       float64 // edema darkens the tissue on T1c
	movCore, movRim, mEd float64 // moving intensities (set per contrast)
}

// ch2Lesion is a right parietal metastasis of 12 mm radius with edema to
// 28 mm.
func (s *subject) lesion(con string) lesion {
	l := lesion{center: [3]float64{32, -30, 30}, core: 7, rim: 11, edema: 26,
		lobes:   [3][3]float64{{1, 0.3, -0.2}, {-0.2, 1, 0.4}, {0.3, -0.3, 1}},
		t1cCore: 0.3 * s.gm, t1cRim: 1.6 * s.fat, t1cEdemaFactor: 0.8}
	switch con {
	case "t2":
		l.movCore, l.movRim, l.mEd = 230, 140, 185
	case "flair":
		l.movCore, l.movRim, l.mEd = 60, 160, 190
	case "inverted":
		l.movCore, l.movRim, l.mEd = 2*s.fat-0.5*s.gm, 2*s.fat-1.2*s.wm, 2*s.fat-0.7*s.gm
	default: // T1 without contrast: hypointense core and edema, no rim.
		l.movCore, l.movRim, l.mEd = 0.4*s.gm, 0.7*s.gm, 0.85*s.gm
	}
	return l
}

// zone returns the lesion compartment of a world point and the smooth
// weight of its boundary: 0 outside, 1 edema, 2 rim, 3 core.
func (l *lesion) zone(p [3]float64) (int, float64) {
	d := [3]float64{p[0] - l.center[0], p[1] - l.center[1], p[2] - l.center[2]}
	// an irregular (lobulated) distance
	r := math.Sqrt(d[0]*d[0] + d[1]*d[1] + d[2]*d[2])
	if r > l.edema*1.4 {
		return 0, 0
	}
	var wob float64
	if r > 0 {
		for a := 0; a < 3; a++ {
			u := (l.lobes[a][0]*d[0] + l.lobes[a][1]*d[1] + l.lobes[a][2]*d[2]) / r
			wob += 0.12 * math.Sin(3*u+float64(a))
		}
	}
	r /= 1 + wob
	switch {
	case r < l.core:
		return 3, 1
	case r < l.rim:
		return 2, 1
	case r < l.edema:
		return 1, math.Min(1, (l.edema-r)/3)
	}
	return 0, 0
}

// plant writes the lesion into img (on the fixed grid); moving selects
// the moving appearance. Brain voxels only.
func (l *lesion) plant(img, brain *volume.Volume, moving bool) {
	nx, ny := img.Dims[0], img.Dims[1]
	for idx := range img.Data {
		if brain.Data[idx] == 0 {
			continue
		}
		p := img.Affine.Apply([3]float64{float64(idx % nx), float64((idx / nx) % ny), float64(idx / (nx * ny))})
		z, w := l.zone(p)
		if z == 0 {
			continue
		}
		v := float64(img.Data[idx])
		var target float64
		switch {
		case !moving && z == 3:
			target = l.t1cCore
		case !moving && z == 2:
			target = l.t1cRim
		case !moving:
			target = v * l.t1cEdemaFactor
		case z == 3:
			target = l.movCore
		case z == 2:
			target = l.movRim
		default:
			target = l.mEd
		}
		img.Data[idx] = float32(v + w*(target-v))
	}
}

// sweepPair is a generated pair with its truth.
type sweepPair struct {
	fixed, moving *volume.Volume
	brain         *volume.Volume // brain mask on the fixed grid
	truth         volume.Affine  // fixed world → moving world
}

// makePair builds the fixed and moving images of a case.
func makePair(t testing.TB, c sweepCase) sweepPair {
	t.Helper()
	s := loadSubject(t, c.subject)
	fixed := s.head
	src := s.head.Clone()
	xs, ys := s.contrastMap(c.contrast)
	for i, v := range src.Data {
		src.Data[i] = float32(piecewiseLinear(float64(v), xs, ys))
	}
	if c.lesion {
		l := s.lesion(c.contrast)
		fixed = s.head.Clone()
		l.plant(fixed, s.brain, false)
		l.plant(src, s.brain, true)
	}
	rad := math.Pi / 180
	center := gridCenter(s.head)
	truth := NewRigid([3]float64{c.angles[0] * rad, c.angles[1] * rad, c.angles[2] * rad}, c.shift, center).Matrix()
	inv, err := truth.Inverse()
	if err != nil {
		t.Fatal(err)
	}
	mov := acquire(s, src, c, inv, truth)
	return sweepPair{fixed: fixed, moving: mov, brain: s.brain, truth: truth}
}

// acquire samples src (on the subject's grid) on the moving grid of c:
// value at moving world y = mean over the slice profile of src(inv·(y +
// d·n)), then bias and Rician noise.
func acquire(s *subject, src *volume.Volume, c sweepCase, inv, truth volume.Affine) *volume.Volume {
	sp := c.spacing
	if sp == ([3]float64{}) {
		sp = [3]float64{1, 1, 1}
	}
	thick := c.thick
	if thick == 0 {
		thick = sp[2]
	}
	// The moving head's world bounding box (the fixed grid's corners
	// moved by truth), with a margin.
	lo, hi := [3]float64{1e9, 1e9, 1e9}, [3]float64{-1e9, -1e9, -1e9}
	d := s.head.Dims
	for corner := 0; corner < 8; corner++ {
		u := [3]float64{float64((corner & 1) * (d[0] - 1)), float64((corner >> 1 & 1) * (d[1] - 1)), float64((corner >> 2 & 1) * (d[2] - 1))}
		p := truth.Apply(s.head.Affine.Apply(u))
		for a := 0; a < 3; a++ {
			lo[a], hi[a] = math.Min(lo[a], p[a]), math.Max(hi[a], p[a])
		}
	}
	// Shrink the box to the head (a rotated grid's corners are far
	// outside it): the grid covers the brain's extent ± 25 mm.
	blo, bhi := brainBox(s, truth)
	for a := 0; a < 3; a++ {
		lo[a], hi[a] = math.Max(lo[a], blo[a]-25), math.Min(hi[a], bhi[a]+25)
	}
	if c.fov != ([2]float64{}) {
		a := c.sliceAxis
		ext := hi[a] - lo[a]
		lo[a], hi[a] = lo[a]+c.fov[0]*ext, lo[a]+c.fov[1]*ext
	}
	// voxel axes: (in-plane 1, in-plane 2, slice) → world axes.
	axes := [3][3]int{{1, 2, 0}, {0, 2, 1}, {0, 1, 2}}[c.sliceAxis]
	var aff volume.Affine
	var dims [3]int
	for v := 0; v < 3; v++ {
		w := axes[v]
		aff[w][v] = sp[v]
		aff[w][3] = lo[w]
		dims[v] = int(math.Floor((hi[w]-lo[w])/sp[v])) + 1
	}
	aff[3][3] = 1
	out, err := volume.New(dims, aff)
	if err != nil {
		panic(err)
	}
	coef, err := volume.NewField(src, volume.BSpline3)
	if err != nil {
		panic(err)
	}
	// voxel of src = srcInv · inv · (moving world)
	srcInv, _ := src.Affine.Inverse()
	k := srcInv.Mul(inv)
	ns := max(1, int(math.Round(thick/0.5)))
	normal := [3]float64{}
	normal[c.sliceAxis] = 1
	parallel.For(dims[2], func(zlo, zhi int) {
		for z := zlo; z < zhi; z++ {
			for j := 0; j < dims[1]; j++ {
				for i := 0; i < dims[0]; i++ {
					y := aff.Apply([3]float64{float64(i), float64(j), float64(z)})
					var acc float64
					n := 0
					for q := 0; q < ns; q++ {
						off := thick * ((float64(q)+0.5)/float64(ns) - 0.5)
						if ns == 1 {
							off = 0
						}
						p := k.Apply([3]float64{y[0] + off*normal[0], y[1] + off*normal[1], y[2] + off*normal[2]})
						if coef.Inside(p[0], p[1], p[2]) {
							acc += coef.At(p[0], p[1], p[2])
						}
						n++
					}
					out.Data[out.Index(i, j, z)] = float32(max(0, acc/float64(n)))
				}
			}
		}
	})
	// bias: 1 + bias·f, f a smooth function of the normalised position
	// scaled to [−1, 1] over the grid.
	f := make([]float64, len(out.Data))
	fmin, fmax := math.Inf(1), math.Inf(-1)
	for idx := range f {
		u := out.Affine.Apply([3]float64{float64(idx % dims[0]), float64((idx / dims[0]) % dims[1]), float64(idx / (dims[0] * dims[1]))})
		var nu [3]float64
		for a := 0; a < 3; a++ {
			nu[a] = 2*(u[a]-lo[a])/math.Max(hi[a]-lo[a], 1) - 1
		}
		g := 0.6*nu[0] + 0.5*nu[1]*nu[1] - 0.4*nu[2] + 0.3*nu[0]*nu[2]
		f[idx] = g
		fmin, fmax = math.Min(fmin, g), math.Max(fmax, g)
	}
	p99 := percentile32(out.Data, 0.99)
	sigma := c.noise * p99
	parallel.For(dims[2], func(zlo, zhi int) {
		for z := zlo; z < zhi; z++ {
			r := rand.New(rand.NewPCG(uint64(z), 0xc0ffee))
			for idx := z * dims[0] * dims[1]; idx < (z+1)*dims[0]*dims[1]; idx++ {
				b := 1 + c.bias*(2*(f[idx]-fmin)/math.Max(fmax-fmin, 1e-9)-1)
				v := float64(out.Data[idx]) * b
				if sigma > 0 {
					re, im := v+sigma*r.NormFloat64(), sigma*r.NormFloat64()
					v = math.Sqrt(re*re + im*im)
				}
				out.Data[idx] = float32(v)
			}
		}
	})
	return out
}

// brainBox returns the moving-world bounding box of the subject's brain.
func brainBox(s *subject, truth volume.Affine) (lo, hi [3]float64) {
	lo, hi = [3]float64{1e9, 1e9, 1e9}, [3]float64{-1e9, -1e9, -1e9}
	nx, ny := s.brain.Dims[0], s.brain.Dims[1]
	for idx, v := range s.brain.Data {
		if v == 0 || idx%3 != 0 {
			continue
		}
		p := truth.Apply(s.brain.Affine.Apply([3]float64{float64(idx % nx), float64((idx / nx) % ny), float64(idx / (nx * ny))}))
		for a := 0; a < 3; a++ {
			lo[a], hi[a] = math.Min(lo[a], p[a]), math.Max(hi[a], p[a])
		}
	}
	return lo, hi
}

func percentile32(x []float32, q float64) float64 {
	step := max(1, len(x)/200000)
	var s []float64
	for i := 0; i < len(x); i += step {
		s = append(s, float64(x[i]))
	}
	slices.Sort(s)
	return quantile(s, q)
}

// sweepOptions are the options the sweep registers with: the
// preprocessing pipeline's (norm.DefaultRegistration).
func sweepOptions() Options {
	o := Options{Optimizer: LBFGS, Shrink: []int{4, 2, 1, 1}, Sigmas: []float64{2, 1, 1, 0}, Bins: 128, Sampling: Sampling{Count: 100000}}
	// experiment knobs
	if s := os.Getenv("METASURV_SWEEP_BINS"); s != "" {
		o.Bins, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("METASURV_SWEEP_SAMPLES"); s != "" {
		o.Sampling.Count, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("METASURV_SWEEP_SIGMA0"); s != "" {
		o.Sigmas[3], _ = strconv.ParseFloat(s, 64)
	}
	if os.Getenv("METASURV_SWEEP_BSPLINE") != "" {
		o.Interp = volume.BSpline3
	}
	return o
}

// sweepRow is one line of the sweep table.
type sweepRow struct {
	name                string
	err, initial        float64
	secs                float64
	suspect             string
	dep, dep0           float64
	elErr, elSecs       float64
	elNote              string
	sliceMM             float64
	isotropic, hasPeers bool
}

func TestRegisterSweep(t *testing.T) {
	full := os.Getenv("METASURV_REGISTER_SWEEP") != ""
	withElastix := full && os.Getenv("METASURV_REGISTER_ELASTIX") != ""
	only := os.Getenv("METASURV_REGISTER_CASES") // comma-separated name substrings
	var rows []sweepRow
	for _, c := range clinicalCases() {
		if !full && !c.fast {
			continue
		}
		if only != "" && !matchAny(c.name, only) {
			continue
		}
		p := makePair(t, c)
		row := sweepRow{name: c.name, initial: meanDisplacementError(volume.Identity(), p.truth, p.brain),
			sliceMM: max(c.spacing[2], 1), isotropic: c.spacing == ([3]float64{}) || c.spacing == ([3]float64{1, 1, 1})}
		run := func() {
			start := time.Now()
			res, err := Register(context.Background(), p.fixed, p.moving, sweepOptions())
			row.secs = time.Since(start).Seconds()
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				row.err = math.NaN()
				return
			}
			row.err = meanDisplacementError(res.Matrix, p.truth, p.brain)
			row.suspect = res.Check.String()
			row.dep, row.dep0 = res.Check.Dependence, res.Check.Sharpness
		}
		// Alternate which side goes first, as the machine is shared.
		if withElastix && len(rows)%2 == 1 {
			row.elErr, row.elSecs, row.elNote = runElastix(t, c, p)
			row.hasPeers = true
			run()
		} else {
			run()
			if withElastix {
				row.elErr, row.elSecs, row.elNote = runElastix(t, c, p)
				row.hasPeers = true
			}
		}
		t.Logf("%-40s error %.4f mm (initial %.1f) %.2f s  %s dep %.3f/%.3f  elastix %.4f mm %.2f s %s",
			row.name, row.err, row.initial, row.secs, row.suspect, row.dep, row.dep0, row.elErr, row.elSecs, row.elNote)
		rows = append(rows, row)
		// Accuracy floor of the fast subset: every case within a tenth of
		// its slice thickness (0.1 mm for 1 mm images).
		if !(row.err <= 0.1*row.sliceMM) {
			t.Errorf("%s: mean error %.4f mm over the brain, want ≤ %.2f mm (a tenth of the slice)", c.name, row.err, 0.1*row.sliceMM)
		}
		if row.suspect != "ok" {
			t.Errorf("%s: a good registration was flagged: %s", c.name, row.suspect)
		}
	}
	t.Log("\n" + sweepTable(rows))
}

func matchAny(name, list string) bool {
	for _, s := range strings.Split(list, ",") {
		if s != "" && strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// sweepTable formats the rows as a Markdown table with medians.
func sweepTable(rows []sweepRow) string {
	var b strings.Builder
	b.WriteString("| case | initial mm | ours mm | ours s | check | elastix mm | elastix s | time ratio |\n|---|---|---|---|---|---|---|---|\n")
	var iso, isoEl []float64
	for _, r := range rows {
		el, ratio := "—", "—"
		if r.hasPeers {
			el = fmt.Sprintf("%.4f | %.2f", r.elErr, r.elSecs)
			if r.elNote != "" {
				el = fmt.Sprintf("%.4f (%s) | %.2f", r.elErr, r.elNote, r.elSecs)
			}
			ratio = fmt.Sprintf("%.2f", r.secs/r.elSecs)
		} else {
			el = "— | —"
		}
		fmt.Fprintf(&b, "| %s | %.1f | %.4f | %.2f | %s | %s | %s |\n", r.name, r.initial, r.err, r.secs, r.suspect, el, ratio)
		if r.isotropic {
			iso = append(iso, r.err)
			if r.hasPeers {
				isoEl = append(isoEl, r.elErr)
			}
		}
	}
	fmt.Fprintf(&b, "median over %d isotropic cases: ours %.4f mm, elastix %.4f mm\n", len(iso), median(iso), median(isoEl))
	return b.String()
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
