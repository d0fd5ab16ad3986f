package volume_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// Every voxel of an extracted box holds the original value at the same
// world position, or the fill outside the original.
func TestExtractKeepsWorld(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	v := randomVolume(rng, [3]int{7, 6, 5}, dyadicAffine(rng, volume.Ornt{{2, 1}, {0, -1}, {1, 1}}))
	for trial := 0; trial < 50; trial++ {
		lo := [3]int{rng.IntN(12) - 4, rng.IntN(12) - 4, rng.IntN(10) - 4}
		dims := [3]int{1 + rng.IntN(10), 1 + rng.IntN(10), 1 + rng.IntN(9)}
		e, err := v.Extract(lo, dims, -9)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < dims[2]; k++ {
			for j := 0; j < dims[1]; j++ {
				for i := 0; i < dims[0]; i++ {
					si, sj, sk := i+lo[0], j+lo[1], k+lo[2]
					wantW := v.Affine.Apply([3]float64{float64(si), float64(sj), float64(sk)})
					if w := e.Affine.Apply([3]float64{float64(i), float64(j), float64(k)}); w != wantW {
						t.Fatalf("box voxel (%d,%d,%d) at %v, source voxel at %v", i, j, k, w, wantW)
					}
					want := float32(-9)
					if si >= 0 && sj >= 0 && sk >= 0 && si < 7 && sj < 6 && sk < 5 {
						want = v.At(si, sj, sk)
					}
					if e.At(i, j, k) != want {
						t.Fatalf("lo %v dims %v voxel (%d,%d,%d) = %g, want %g", lo, dims, i, j, k, e.At(i, j, k), want)
					}
				}
			}
		}
	}
}

// CropOrPad follows MONAI ResizeWithPadOrCrop: a crop from n to d starts at
// n/2 − d/2, a pad puts (d−n)/2 before.
func TestCropOrPad(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	v := randomVolume(rng, [3]int{10, 7, 4}, volume.Identity())
	c, err := v.CropOrPad([3]int{5, 7, 9}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Axis 0: crop 10→5 starts at 5−2 = 3; axis 2: pad 4→9 puts 2 before.
	for k := 0; k < 9; k++ {
		for j := 0; j < 7; j++ {
			for i := 0; i < 5; i++ {
				want := float32(0)
				if k >= 2 && k < 6 {
					want = v.At(i+3, j, k-2)
				}
				if c.At(i, j, k) != want {
					t.Fatalf("(%d,%d,%d) = %g, want %g", i, j, k, c.At(i, j, k), want)
				}
			}
		}
	}
	if c.Affine[0][3] != 3 || c.Affine[2][3] != -2 {
		t.Errorf("affine translation %v, want (3, 0, -2)", [3]float64{c.Affine[0][3], c.Affine[1][3], c.Affine[2][3]})
	}
	// With even differences padding then cropping back is the identity (with
	// odd ones MONAI's pad puts the extra voxel after, its crop before).
	for _, dims := range [][3]int{{14, 11, 8}, {12, 9, 6}} {
		p, _ := v.CropOrPad(dims, 1)
		back, _ := p.CropOrPad(v.Dims, 1)
		if back.Affine != v.Affine {
			t.Fatalf("pad to %v and back: affine %v", dims, back.Affine)
		}
		for i := range v.Data {
			if back.Data[i] != v.Data[i] {
				t.Fatalf("pad to %v and back changed voxel %d", dims, i)
			}
		}
	}
	if _, err := v.CropOrPad([3]int{0, 1, 1}, 0); err == nil {
		t.Error("zero target dimension accepted")
	}
}

func TestMasks(t *testing.T) {
	v, _ := volume.New([3]int{6, 5, 4}, volume.Identity())
	v.Set(1, 2, 1, 5)
	v.Set(4, 3, 2, -2)
	v.Set(2, 1, 3, 0.5)
	nz, err := volume.NonzeroMask(v)
	if err != nil {
		t.Fatal(err)
	}
	if nz.Count() != 3 {
		t.Errorf("nonzero count %d, want 3", nz.Count())
	}
	lo, hi, ok := nz.BoundingBox()
	if !ok || lo != [3]int{1, 1, 1} || hi != [3]int{5, 4, 4} {
		t.Errorf("bounding box [%v, %v) %v, want [[1 1 1], [5 4 4])", lo, hi, ok)
	}
	th, _ := volume.ThresholdMask(v, 0.5, 10)
	if th.Count() != 2 || !th.Data[v.Index(1, 2, 1)] || !th.Data[v.Index(2, 1, 3)] {
		t.Errorf("threshold [0.5, 10] marks %d voxels", th.Count())
	}
	if _, err := volume.ThresholdMask(v, 2, 1); err == nil {
		t.Error("empty threshold range accepted")
	}
	m, _ := v.ApplyMask(th, -1)
	if m.At(4, 3, 2) != -1 || m.At(1, 2, 1) != 5 || m.At(0, 0, 0) != -1 {
		t.Error("ApplyMask did not keep exactly the masked voxels")
	}
	if v.At(4, 3, 2) != -2 {
		t.Error("ApplyMask modified its input")
	}
	c, err := v.CropToBox(lo, hi, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c.Dims != [3]int{6, 5, 4} || c.Affine != v.Affine {
		t.Errorf("crop with margin 1 clipped to the volume: dims %v", c.Dims)
	}
	c, _ = v.CropToBox(lo, hi, 0)
	if c.Dims != [3]int{4, 3, 3} || c.At(0, 1, 0) != 5 {
		t.Errorf("crop to box: dims %v", c.Dims)
	}
	cm, err := v.CropToMask(nz, 0)
	if err != nil || cm.Dims != c.Dims || cm.Affine != c.Affine {
		t.Errorf("CropToMask = %v, %v; want the box crop", cm, err)
	}
	empty, _ := volume.NewMask(v.Dims)
	if _, err := v.CropToMask(empty, 2); !errors.Is(err, volume.ErrEmpty) {
		t.Errorf("CropToMask(empty) = %v, want ErrEmpty", err)
	}
	if _, _, ok := empty.BoundingBox(); ok {
		t.Error("empty mask has a bounding box")
	}
	small, _ := volume.NewMask([3]int{2, 2, 2})
	if _, err := v.ApplyMask(small, 0); err == nil {
		t.Error("mask on another grid accepted")
	}
	if _, err := v.CropToBox([3]int{7, 0, 0}, [3]int{8, 1, 1}, 0); err == nil {
		t.Error("box outside the volume accepted")
	}
}
