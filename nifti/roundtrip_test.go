package nifti

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// obliqueAffine is a rotated, anisotropic, LPS-ish affine with a flip, so
// that qfac = -1 and every quaternion component is exercised.
func obliqueAffine() volume.Affine {
	c, s := math.Cos(0.3), math.Sin(0.3)
	return volume.Affine{
		{-0.9 * c, 0, 1.2 * s, 10.5},
		{0, 1.1, 0, -20.25},
		{-0.9 * s, 0, -1.2 * c, 30},
		{0, 0, 0, 1},
	}
}

func rampVolume(t testing.TB, dims [3]int, aff volume.Affine) *volume.Volume {
	v, err := volume.New(dims, aff)
	if err != nil {
		t.Fatal(err)
	}
	for i := range v.Data {
		v.Data[i] = float32(math.Sin(float64(i)*0.01)*100) + 0.125
	}
	return v
}

// TestSaveLoad writes a volume in every single-file and pair flavour and
// checks that Load returns the same voxels (bit-exact) and affine (to
// float32 precision of the sform), and that the qform agrees with the sform.
func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	v := rampVolume(t, [3]int{5, 4, 3}, obliqueAffine())
	for _, name := range []string{"a.nii", "a.nii.gz", "b.hdr", "c.img.gz"} {
		path := filepath.Join(dir, name)
		if err := Save(path, v); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Dims != v.Dims {
			t.Fatalf("%s: dims %v, want %v", name, got.Dims, v.Dims)
		}
		for i := range v.Data {
			if math.Float32bits(got.Data[i]) != math.Float32bits(v.Data[i]) {
				t.Fatalf("%s: voxel %d = %v, want %v", name, i, got.Data[i], v.Data[i])
			}
		}
		checkAffine(t, name+" sform", got.Affine, v.Affine, 1e-6)
		img, err := LoadImage(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		q, err := img.Header.Qform()
		if err != nil {
			t.Fatal(err)
		}
		checkAffine(t, name+" qform", q, v.Affine, 1e-6)
		if img.Header.QformCode != XformAlignedAnat || img.Header.SformCode != XformAlignedAnat {
			t.Errorf("%s: codes %d/%d", name, img.Header.QformCode, img.Header.SformCode)
		}
	}
}

func checkAffine(t *testing.T, what string, got, want volume.Affine, tol float64) {
	t.Helper()
	for i := range got {
		for j := range got[i] {
			if math.Abs(got[i][j]-want[i][j]) > tol*math.Max(1, math.Abs(want[i][j])) {
				t.Errorf("%s[%d][%d] = %.9g, want %.9g", what, i, j, got[i][j], want[i][j])
			}
		}
	}
}

// TestLoadReusesScratch alternates Load between a large and a small gzipped
// image, so that each reads into buffers left by the other (larger or
// smaller than needed), and checks every result bit for bit against the
// saved volume, also through a pooled scratch used directly.
func TestLoadReusesScratch(t *testing.T) {
	dir := t.TempDir()
	vols := map[string]*volume.Volume{
		"big.nii.gz":   rampVolume(t, [3]int{70, 60, 50}, obliqueAffine()),
		"small.nii.gz": rampVolume(t, [3]int{9, 7, 5}, obliqueAffine()),
	}
	for name, v := range vols {
		if err := Save(filepath.Join(dir, name), v); err != nil {
			t.Fatal(err)
		}
	}
	s := &scratch{}
	var first *byte
	for _, name := range []string{"big.nii.gz", "small.nii.gz", "big.nii.gz", "small.nii.gz", "big.nii.gz"} {
		path, want := filepath.Join(dir, name), vols[name]
		got, err := Load(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		img, err := loadImage(path, nil, s)
		if err != nil {
			t.Fatal(err)
		}
		direct, err := img.Volume(0)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = &s.out[:1][0]
		} else if &s.out[:1][0] != first {
			t.Errorf("%s: decompressed into new memory instead of the scratch buffer", name)
		}
		for i := range want.Data {
			if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) || math.Float32bits(direct.Data[i]) != math.Float32bits(want.Data[i]) {
				t.Fatalf("%s: voxel %d = %v / %v, want %v", name, i, got.Data[i], direct.Data[i], want.Data[i])
			}
		}
	}
}

// TestPreallocate checks that the voxel buffer allocated ahead of decoding
// has the voxel count, and that none is allocated for a header that
// declares more bytes than the gzip trailer's ISIZE or several volumes.
func TestPreallocate(t *testing.T) {
	h := Header{Version: 1, Datatype: DTInt16, VoxOffset: 352, Dim: [8]int64{3, 10, 20, 30, 1, 1, 1, 1}}
	n, err := h.DataBytes()
	if err != nil {
		t.Fatal(err)
	}
	trailer := func(isize int64) []byte {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b[4:], uint32(isize))
		return b
	}
	c := make(chan []float32, 1)
	preallocate(c, &h, n, trailer(352+n))
	if got := <-c; len(got) != 10*20*30 {
		t.Errorf("preallocated %d voxels, want %d", len(got), 10*20*30)
	}
	preallocate(c, &h, n, trailer(352+n-1))
	if got := <-c; got != nil {
		t.Errorf("preallocated %d voxels beyond ISIZE", len(got))
	}
	h4 := h
	h4.Dim = [8]int64{4, 10, 20, 30, 2, 1, 1, 1}
	n4, _ := h4.DataBytes()
	preallocate(c, &h4, n4/2, trailer(352+n4))
	if got := <-c; got != nil {
		t.Errorf("preallocated %d voxels for part of a 4-D image", len(got))
	}
}

// TestLoadEarlyConversion reads an image large enough for the two-way
// decoder, big enough that the voxels before the hand-off are converted
// while the rest decompresses, and checks the result bit for bit against
// the plain path (scaled int16, so slope and intercept apply to both parts).
func TestLoadEarlyConversion(t *testing.T) {
	img := phantomInt16(8, 8, 8)
	img.Header.Dim = [8]int64{3, 160, 160, 100, 1, 1, 1, 1}
	img.Header.SclSlope, img.Header.SclInter = 0.5, -3
	img.Data = make([]byte, 2*160*160*100)
	seed := uint32(7)
	for i := 0; i < len(img.Data); i += 2 { // 6 bits of noise: Huffman blocks
		seed = seed*1664525 + 1013904223
		img.Data[i], img.Data[i+1] = byte(i>>12)+byte(seed>>26), byte(i>>20)
	}
	path := filepath.Join(t.TempDir(), "noise.nii.gz")
	if err := SaveImage(path, img, nil); err != nil {
		t.Fatal(err)
	}
	ref, err := LoadImage(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Volume(0)
	if err != nil {
		t.Fatal(err)
	}
	// The two-way decoder is opportunistic: when its second goroutine gets
	// no core before the first has decoded everything (a loaded machine,
	// as under go test ./... on 2 cores), there is no hand-off and nothing
	// is converted early. Up to 10 attempts for one that hands off.
	var (
		got  *Image
		data []float32
		done int
	)
	for range 10 {
		s := &scratch{voxels: make(chan []float32, 1)}
		if got, err = loadImage(path, nil, s); err != nil {
			t.Fatal(err)
		}
		if data, done = s.take(nil); done > 0 {
			break
		}
	}
	if done <= 0 || done >= len(want.Data) {
		t.Fatalf("%d of %d voxels converted early, want a proper part", done, len(want.Data))
	}
	v, err := got.volumeInto(0, data, done)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want.Data {
		if math.Float32bits(v.Data[i]) != math.Float32bits(want.Data[i]) || math.Float32bits(loaded.Data[i]) != math.Float32bits(want.Data[i]) {
			t.Fatalf("voxel %d = %v / %v, want %v", i, v.Data[i], loaded.Data[i], want.Data[i])
		}
	}
}
