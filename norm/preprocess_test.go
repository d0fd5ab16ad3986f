package norm

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/metasurv/metasurv/internal/synth"
	"github.com/metasurv/metasurv/register"
	"github.com/metasurv/metasurv/volume"
)

// brainEllipsoid is synth's brain (centre (0, 0, 4) mm, semi-axes 62, 80,
// 64 mm, internal/synth/tissue.go): the atlas brain mask of the tests is
// derived from this geometry.
func inBrain(p [3]float64) bool {
	x, y, z := p[0]/62, p[1]/80, (p[2]-4)/64
	return x*x+y*y+z*z <= 1
}

// testAtlas samples the T1 phantom without motion on a RAS grid of the
// given spacing, with its brain mask.
func testAtlas(t testing.TB, spacing float64) (*volume.Volume, *volume.Mask) {
	t.Helper()
	dims, aff, err := synth.Grid([3]float64{168, 200, 176}, [3]float64{spacing, spacing, spacing}, "RAS")
	if err != nil {
		t.Fatal(err)
	}
	atlas, err := synth.Head(synth.T1, dims, aff, synth.HeadOptions{LesionRadius: -1})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := volume.NewMask(dims)
	for k := 0; k < dims[2]; k++ {
		for j := 0; j < dims[1]; j++ {
			for i := 0; i < dims[0]; i++ {
				m.Data[atlas.Index(i, j, k)] = inBrain(aff.Apply([3]float64{float64(i), float64(j), float64(k)}))
			}
		}
	}
	return atlas, m
}

// scan describes one synthetic acquisition.
type scan struct {
	codes   string
	spacing [3]float64
	angles  [3]float64 // degrees
	shift   [3]float64 // mm
}

// testPatient samples the four sequences with their own grids and motions;
// motions[c] maps the sequence's world to phantom (atlas) world.
func testPatient(t testing.TB, scans [4]scan) (Sequences, [4]volume.Affine) {
	t.Helper()
	var vols [4]*volume.Volume
	var motions [4]volume.Affine
	for c, s := range scans {
		dims, aff, err := synth.Grid([3]float64{210, 240, 210}, s.spacing, s.codes)
		if err != nil {
			t.Fatal(err)
		}
		var rad [3]float64
		for a := range rad {
			rad[a] = s.angles[a] * math.Pi / 180
		}
		m := register.NewRigid(rad, s.shift, [3]float64{0, 0, 10}).Matrix()
		motions[c] = m
		v, err := synth.Head(synth.Sequences[c], dims, aff, synth.HeadOptions{Motion: m, Bias: 0.2, Noise: 0.01, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		vols[c] = v
	}
	return Sequences{T1: vols[0], T1c: vols[1], T2: vols[2], FLAIR: vols[3]}, motions
}

var patientCache struct {
	sync.Mutex
	seqs    Sequences
	motions [4]volume.Affine
}

// cachedPatient is testPatient(t, testScans), sampled once for all tests
// (Preprocess leaves its inputs unchanged, which a test checks).
func cachedPatient(t testing.TB) (Sequences, [4]volume.Affine) {
	patientCache.Lock()
	defer patientCache.Unlock()
	if patientCache.seqs.T1 == nil {
		patientCache.seqs, patientCache.motions = testPatient(t, testScans)
	}
	return patientCache.seqs, patientCache.motions
}

var testScans = [4]scan{
	{codes: "LPS", spacing: [3]float64{2, 2, 3}, angles: [3]float64{4, -3, 6}, shift: [3]float64{5, -8, 3}},
	{codes: "RAS", spacing: [3]float64{2, 2, 2}, angles: [3]float64{-5, 2, 3}, shift: [3]float64{-6, 4, 7}},
	{codes: "PIL", spacing: [3]float64{2.5, 2, 2}, angles: [3]float64{2, 6, -4}, shift: [3]float64{3, 9, -5}},
	{codes: "LAS", spacing: [3]float64{2, 2.4, 4}, angles: [3]float64{-3, -5, 2}, shift: [3]float64{-7, -2, 6}},
}

// meanError is the mean distance over the brain between the recovered
// atlas → image matrix and the inverse of the true motion.
func meanError(t testing.TB, got volume.Affine, motion volume.Affine, atlas *volume.Volume, m *volume.Mask) float64 {
	inv, err := motion.Inverse()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	n := 0
	for idx, b := range m.Data {
		if !b || idx%7 != 0 {
			continue
		}
		i, j, k := idx%atlas.Dims[0], (idx/atlas.Dims[0])%atlas.Dims[1], idx/(atlas.Dims[0]*atlas.Dims[1])
		p := atlas.Affine.Apply([3]float64{float64(i), float64(j), float64(k)})
		a, b := got.Apply(p), inv.Apply(p)
		sum += math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
		n++
	}
	return sum / float64(n)
}

func checkZScored(t *testing.T, st *volume.Stack, c int) {
	t.Helper()
	per := len(st.Data) / st.Channels()
	x := st.Data[c*per : (c+1)*per]
	var s, s2 float64
	n := 0
	for _, v := range x {
		if v != 0 {
			s += float64(v)
			s2 += float64(v) * float64(v)
			n++
		}
	}
	mean := s / float64(n)
	sd := math.Sqrt(s2/float64(n) - mean*mean)
	if math.Abs(mean) > 1e-3 || math.Abs(sd-1) > 1e-3 {
		t.Errorf("channel %s: nonzero mean %g, std %g; want 0, 1", st.Names[c], mean, sd)
	}
}

func TestPreprocessSynthetic(t *testing.T) {
	atlas, mask := testAtlas(t, 2)
	seqs, motions := cachedPatient(t)
	before := seqs.T1c.Clone() // RAS like the atlas: used without a copy
	var steps []string
	st, rep, err := Preprocess(context.Background(), seqs, atlas, Options{AtlasMask: mask, Target: [3]int{48, 48, 48},
		Progress: func(s string, f float64) { steps = append(steps, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Shape() != [4]int{4, 48, 48, 48} || rep.Shape != st.Shape() {
		t.Fatalf("shape %v, report %v", st.Shape(), rep.Shape)
	}
	for c, s := range rep.Sequences {
		e := meanError(t, *s.AtlasToImage, motions[c], atlas, mask)
		t.Logf("%s: mean error %.3f mm over the brain", s.Name, e)
		if e > 0.5 {
			t.Errorf("%s: mean error %.3f mm, want < 0.5", s.Name, e)
		}
		checkZScored(t, st, c)
	}
	for i, v := range before.Data {
		if seqs.T1c.Data[i] != v {
			t.Fatal("Preprocess modified its input")
		}
	}
	if rep.Hub != "T1c" || len(rep.Missing) != 0 || rep.MaskVoxels != mask.Count() {
		t.Errorf("report hub %q missing %v mask %d", rep.Hub, rep.Missing, rep.MaskVoxels)
	}
	if len(steps) != 7 || steps[len(steps)-1] != "done" {
		t.Errorf("progress steps %v", steps)
	}
	t.Logf("steps %+v", rep.Steps)
}

func TestPreprocessMissing(t *testing.T) {
	atlas, mask := testAtlas(t, 3)
	seqs, motions := cachedPatient(t)
	seqs.T1c = nil
	if _, _, err := Preprocess(context.Background(), seqs, atlas, Options{SkipN4: true}); !errors.Is(err, ErrMissing) {
		t.Fatalf("missing T1c under MissingError: %v, want ErrMissing", err)
	}
	st, rep, err := Preprocess(context.Background(), seqs, atlas, Options{AtlasMask: mask, Missing: MissingZeroFill, Target: [3]int{32, 32, 32}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Hub != "T1" || len(rep.Missing) != 1 || rep.Missing[0] != "T1c" || st.Present[1] || !st.Present[0] {
		t.Fatalf("hub %q missing %v present %v", rep.Hub, rep.Missing, st.Present)
	}
	per := len(st.Data) / 4
	for _, v := range st.Data[per : 2*per] {
		if v != 0 {
			t.Fatal("missing channel is not zero")
		}
	}
	for _, c := range []int{0, 2, 3} {
		if e := meanError(t, *rep.Sequences[c].AtlasToImage, motions[c], atlas, mask); e > 0.5 {
			t.Errorf("%s: mean error %.3f mm on a 3 mm atlas, want < 0.5", rep.Sequences[c].Name, e)
		}
		checkZScored(t, st, c)
	}
}

func TestPreprocessCancelled(t *testing.T) {
	atlas, mask := testAtlas(t, 4)
	seqs, _ := cachedPatient(t)
	// a Stripper replaces the atlas mask: here the atlas mask refined
	st, rep, err := Preprocess(context.Background(), seqs, atlas, Options{SkipN4: true, Target: [3]int{16, 16, 16},
		Stripper: &AtlasStripper{AtlasMask: mask, SameGrid: true}, Normalizer: MinMax{Min: 0, Max: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.MaskVoxels < mask.Count()*9/10 || rep.MaskVoxels > mask.Count()*11/10 {
		t.Errorf("stripper mask has %d voxels, atlas mask %d", rep.MaskVoxels, mask.Count())
	}
	lo, hi := float32(1), float32(0)
	for _, v := range st.Data {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo != 0 || hi != 1 {
		t.Errorf("MinMax normaliser range [%g, %g]", lo, hi)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Preprocess(ctx, seqs, atlas, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	if _, _, err := Preprocess(context.Background(), Sequences{}, atlas, Options{Missing: MissingZeroFill}); !errors.Is(err, ErrMissing) {
		t.Fatalf("no sequence: %v", err)
	}
}
