package dicom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func scanDir(t *testing.T, dir string, opts *ScanOptions) *Result {
	t.Helper()
	res, err := Scan(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Skipped {
		t.Errorf("skipped %s: %s", s.Path, s.Reason)
	}
	return res
}

// TestStackGeometry writes random oblique stacks (either slice direction,
// shuffled files, InstanceNumber opposite to the positions) and checks
// that every slice lands at its own world position with its own pixels,
// and that the affine maps each voxel to its DICOM (LPS→RAS) position.
func TestStackGeometry(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 12; trial++ {
		dz := 0.7 + 3*rng.Float64()
		if trial%2 == 1 {
			dz = -dz
		}
		rows, cols := 5+rng.Intn(4), 6+rng.Intn(4)
		slices, rowc, colc, _ := stack(rng, 6, rows, cols, dz, "1.2.3.4")
		dir := t.TempDir()
		writeShuffled(t, rng, dir, slices)
		res := scanDir(t, dir, nil)
		if len(res.Series) != 1 || res.Series[0].Err != nil {
			t.Fatalf("trial %d: %d series, err %v", trial, len(res.Series), res.Series[0].Err)
		}
		s := res.Series[0]
		v, err := s.Volume(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if v.Dims != [3]int{cols, rows, 6} {
			t.Fatalf("dims %v", v.Dims)
		}
		if math.Abs(s.SliceSpacing-math.Abs(dz)) > 1e-6 {
			t.Errorf("spacing %v, want %v", s.SliceSpacing, math.Abs(dz))
		}
		for _, sl := range slices {
			// Find the k whose voxel (0,0,k) is at the slice position.
			found := -1
			for k := 0; k < 6; k++ {
				var d float64
				for a := 0; a < 3; a++ {
					w := v.Affine[a][2]*float64(k) + v.Affine[a][3]
					want := sl.pos[a]
					if a < 2 {
						want = -want
					}
					d += (w - want) * (w - want)
				}
				if d < 1e-10 {
					found = k
				}
			}
			if found < 0 {
				t.Fatalf("trial %d: no slice of the volume at %v", trial, sl.pos)
			}
			for y := 0; y < rows; y++ {
				for x := 0; x < cols; x++ {
					if got := v.At(x, y, found); got != float32(sl.pixels[y*cols+x]) {
						t.Fatalf("trial %d: voxel (%d,%d,%d) = %v, want %v", trial, x, y, found, got, sl.pixels[y*cols+x])
					}
				}
			}
		}
		// Columns of the affine: row cosine × column spacing, column
		// cosine × row spacing, in RAS.
		ps := slices[0].ps
		for a := 0; a < 3; a++ {
			sgn := 1.0
			if a < 2 {
				sgn = -1
			}
			if math.Abs(v.Affine[a][0]-sgn*rowc[a]*ps[1]) > 1e-6 || math.Abs(v.Affine[a][1]-sgn*colc[a]*ps[0]) > 1e-6 {
				t.Fatalf("trial %d: affine %v", trial, v.Affine)
			}
		}
	}
}

func TestMissingSliceRefusedOrSplit(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	slices, _, _, _ := stack(rng, 9, 4, 4, 2.5, "1.2.3.5")
	missing := slices[4].pos
	slices = append(slices[:4], slices[5:]...)
	dir := t.TempDir()
	writeShuffled(t, rng, dir, slices)
	res := scanDir(t, dir, nil)
	if len(res.Series) != 1 {
		t.Fatalf("%d series", len(res.Series))
	}
	err := res.Series[0].Err
	if !errors.Is(err, ErrGeometry) || !strings.Contains(err.Error(), "missing slice") || !strings.Contains(err.Error(), fmtPos(missing)) {
		t.Fatalf("error %v does not name the missing position %s", err, fmtPos(missing))
	}
	if _, verr := res.Series[0].Volume(context.Background()); !errors.Is(verr, ErrGeometry) {
		t.Fatalf("Volume of a refused series: %v", verr)
	}
	res = scanDir(t, dir, &ScanOptions{SplitGaps: true})
	if len(res.Series) != 2 || res.Series[0].Dims[2]+res.Series[1].Dims[2] != 8 {
		t.Fatalf("split: %d series", len(res.Series))
	}
	for _, s := range res.Series {
		if s.Err != nil || len(s.Warnings) == 0 || math.Abs(s.SliceSpacing-2.5) > 1e-6 {
			t.Errorf("part %s: err %v warnings %v spacing %v", s.Name, s.Err, s.Warnings, s.SliceSpacing)
		}
	}
}

func TestUnevenAndDuplicateRefused(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	slices, _, _, _ := stack(rng, 6, 4, 4, 2, "1.2.3.6")
	// Move the last slice 0.7 mm further: uneven, not a whole gap.
	nrm := cross([3]float64{slices[0].iop[0], slices[0].iop[1], slices[0].iop[2]}, [3]float64{slices[0].iop[3], slices[0].iop[4], slices[0].iop[5]})
	for a := 0; a < 3; a++ {
		slices[5].pos[a] += 0.7 * nrm[a]
	}
	dir := t.TempDir()
	writeShuffled(t, rng, dir, slices)
	res := scanDir(t, dir, nil)
	if err := res.Series[0].Err; !errors.Is(err, ErrGeometry) || !strings.Contains(err.Error(), "uneven") {
		t.Fatalf("uneven: %v", err)
	}
	slices, _, _, _ = stack(rng, 4, 4, 4, 2, "1.2.3.7")
	slices = append(slices, slices[2])
	dir = t.TempDir()
	writeShuffled(t, rng, dir, slices)
	res = scanDir(t, dir, nil)
	if err := res.Series[0].Err; !errors.Is(err, ErrGeometry) || !strings.Contains(err.Error(), "share a position") {
		t.Fatalf("duplicate: %v", err)
	}
}

func TestEchoesAndRescale(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	e1, _, _, _ := stack(rng, 5, 4, 4, 3, "1.2.3.8")
	var e2 []tSlice
	for k, s := range e1 {
		s.echo, s.te = 2, 90
		s.slope, s.inter = 0.5+0.25*float64(k), -10*float64(k)
		e1[k].slope = 2
		e2 = append(e2, s)
	}
	dir := t.TempDir()
	writeShuffled(t, rng, dir, append(e1, e2...))
	res := scanDir(t, dir, nil)
	if len(res.Series) != 2 {
		t.Fatalf("%d series, want 2 echoes", len(res.Series))
	}
	a, b := res.Series[0], res.Series[1]
	if a.Meta.EchoTime != 10 || b.Meta.EchoTime != 90 || !a.UniformRescale || b.UniformRescale || a.Slope != 2 {
		t.Fatalf("echo split / rescale: %+v %+v", a.Meta, b.Meta)
	}
	vb, err := b.Volume(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Slices sorted along the normal are in generation order (dz > 0).
	for k := 0; k < 5; k++ {
		want := float32(float64(e2[k].pixels[5])*e2[k].slope + e2[k].inter)
		if got := vb.At(1, 1, k); got != want {
			t.Fatalf("slice %d rescaled %v, want %v", k, got, want)
		}
	}
}

func TestLocalizerApart(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	main, _, _, _ := stack(rng, 4, 4, 4, 1, "1.2.3.9")
	loc, _, _, _ := stack(rng, 1, 4, 4, 1, "1.2.3.9")
	loc[0].imageType = `ORIGINAL\PRIMARY\LOCALIZER`
	dir := t.TempDir()
	writeShuffled(t, rng, dir, append(main, loc...))
	v, s, err := ReadDir(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Dims[2] != 4 || s.Localizer {
		t.Fatalf("ReadDir picked %v (localizer %v)", v.Dims, s.Localizer)
	}
}

func TestSelectSequences(t *testing.T) {
	mk := func(name, label string, acq string, n int, sn int) *Series {
		s := &Series{Name: name, Guess: Guess{Label: label}, Dims: [3]int{10, 10, n}}
		s.Meta.MRAcquisitionType, s.Meta.SeriesNumber = acq, sn
		s.Affine[0][0], s.Affine[1][1], s.Affine[2][2], s.Affine[3][3] = 1, 1, 1, 1
		return s
	}
	t1 := mk("t1_2d", "T1", "2D", 20, 2)
	t13d := mk("t1_3d", "T1", "3D", 176, 3)
	t1c := mk("t1c", "T1c", "3D", 176, 9)
	loc := mk("loc", "T1", "2D", 1, 1)
	loc.Localizer = true
	bad := mk("flair_gap", "FLAIR", "2D", 30, 5)
	bad.Err = ErrGeometry
	sel := SelectSequences([]*Series{t1, loc, t13d, t1c, bad})
	if sel.Series["T1"] != t13d || sel.Series["T1c"] != t1c || sel.Series["T2"] != nil || sel.Series["FLAIR"] != nil {
		t.Fatalf("selection %v", sel.Series)
	}
	notes := strings.Join(sel.Notes, "\n")
	for _, want := range []string{"T1: chose t1_3d", "T2: no series", "FLAIR: no series"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}

// TestOrientationRounding: cosines written with different rounding per
// slice (seen in exports that recompute them) stay one series.
func TestOrientationRounding(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	slices, _, _, _ := stack(rng, 6, 4, 4, 2, "1.2.3.10")
	for k := range slices {
		for a := range slices[k].iop {
			slices[k].iop[a] += 4e-5 * float64(k%3-1)
		}
	}
	dir := t.TempDir()
	writeShuffled(t, rng, dir, slices)
	res := scanDir(t, dir, nil)
	if len(res.Series) != 1 || res.Series[0].Err != nil || res.Series[0].Dims[2] != 6 {
		t.Fatalf("%d series (err %v)", len(res.Series), res.Series[0].Err)
	}
}

// TestIconSequence: pixel data inside an Icon Image Sequence item (of
// undefined length) does not stop the header scan early.
func TestIconSequence(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	slices, _, _, _ := stack(rng, 3, 4, 4, 2, "1.2.3.11")
	dir := t.TempDir()
	for i, sl := range slices {
		b := sl.encode()
		// Insert an undefined-length (0088,0200) sequence whose item holds
		// a 2×2 icon, before the image's own elements of group 0088+.
		var icon bytes.Buffer
		icon.Write([]byte{0x88, 0x00, 0x00, 0x02, 'S', 'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF})
		icon.Write([]byte{0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF})
		encodeElems(&icon, []tElem{tUS(TagRows, 2), tUS(TagColumns, 2), tUS(TagBitsAllocated, 8), {TagPixelData, "OB", []byte{1, 2, 3, 4}}})
		icon.Write([]byte{0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0, 0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0})
		// The image's Pixel Data element is last: put the icon before it.
		at := bytes.LastIndex(b, []byte{0xE0, 0x7F, 0x10, 0x00, 'O', 'W'})
		b = append(append(append([]byte(nil), b[:at]...), icon.Bytes()...), b[at:]...)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint("F", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := scanDir(t, dir, nil)
	if len(res.Series) != 1 || res.Series[0].Err != nil {
		t.Fatalf("%d series", len(res.Series))
	}
	v, err := res.Series[0].Volume(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v.Dims != [3]int{4, 4, 3} {
		t.Fatalf("dims %v", v.Dims)
	}
}

// TestRepeatsSplitByAcquisition: two acquisitions of the same positions in
// one series become two volumes; without a key they are refused.
func TestRepeatsSplitByAcquisition(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	a, _, _, _ := stack(rng, 4, 4, 4, 2, "1.2.3.12")
	var all []tSlice
	for acq := 1; acq <= 2; acq++ {
		for _, s := range a {
			s.acq = acq
			all = append(all, s)
		}
	}
	dir := t.TempDir()
	writeShuffled(t, rng, dir, all)
	res := scanDir(t, dir, nil)
	if len(res.Series) != 2 || res.Series[0].Err != nil || res.Series[1].Err != nil || !strings.HasSuffix(res.Series[1].Name, "_acq2") {
		for _, s := range res.Series {
			t.Logf("%s %v %v", s.Name, s.Dims, s.Err)
		}
		t.Fatalf("%d series", len(res.Series))
	}
}

func TestEchoNames(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	e1, _, _, _ := stack(rng, 3, 4, 4, 2, "1.2.3.13")
	var e2 []tSlice
	for _, s := range e1 {
		s.echo, s.te = 2, 80
		e2 = append(e2, s)
	}
	dir := t.TempDir()
	writeShuffled(t, rng, dir, append(e1, e2...))
	res := scanDir(t, dir, nil)
	if len(res.Series) != 2 || !strings.HasSuffix(res.Series[0].Name, "_e1") || !strings.HasSuffix(res.Series[1].Name, "_e2") {
		t.Fatalf("names %q, %q", res.Series[0].Name, res.Series[1].Name)
	}
}

// TestVolumeFailsAndCancels: a file broken between Scan and Volume makes
// Volume fail with the parser's error (no volume of half-decoded slices),
// and a cancelled context stops both Scan and Volume with its error.
func TestVolumeFailsAndCancels(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	slices, _, _, _ := stack(rng, 8, 6, 7, 2, "1.2.3.9")
	dir := t.TempDir()
	writeShuffled(t, rng, dir, slices)
	res := scanDir(t, dir, &ScanOptions{Workers: 3})
	if len(res.Series) != 1 || res.Series[0].Err != nil {
		t.Fatalf("%d series", len(res.Series))
	}
	s := res.Series[0]
	if _, err := s.Volume(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Volume(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Volume with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := Scan(ctx, dir, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Scan with a cancelled context: %v, want context.Canceled", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, ents[len(ents)/2].Name())
	b, err := os.ReadFile(broken)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, b[:len(b)-20], 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := s.Volume(context.Background())
	if err == nil || v != nil {
		t.Fatalf("Volume with a truncated slice file: volume %v, error %v", v != nil, err)
	}
	if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated slice: error %v, want ErrTruncated or ErrMalformed", err)
	}
}
