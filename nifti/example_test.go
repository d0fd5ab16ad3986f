package nifti_test

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/volume"
)

// Save a volume as .nii.gz and load it back: voxels, affine and the
// orientation survive the round trip.
func Example() {
	dir, err := os.MkdirTemp("", "nifti-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	aff := volume.Affine{{-2, 0, 0, 90}, {0, 2, 0, -126}, {0, 0, 2, -72}, {0, 0, 0, 1}} // LAS, 2 mm
	v, err := volume.New([3]int{4, 3, 2}, aff)
	if err != nil {
		log.Fatal(err)
	}
	for i := range v.Data {
		v.Data[i] = float32(i) / 2
	}
	path := filepath.Join(dir, "t1.nii.gz")
	if err := nifti.Save(path, v); err != nil {
		log.Fatal(err)
	}
	got, err := nifti.Load(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Dims, got.Spacing(), got.At(3, 2, 1))
	fmt.Println(got.Affine[0])
	// Output:
	// [4 3 2] [2 2 2] 11.5
	// [-2 0 0 90]
}

// A 4-D image keeps all its volumes; Volume(t) hands out one of them as
// float32 with the scaling applied.
func ExampleImage_Volume() {
	img := &nifti.Image{Header: nifti.Header{
		Version:  1,
		Datatype: nifti.DTInt16,
		Dim:      [8]int64{4, 2, 2, 1, 3, 1, 1, 1}, // 2×2×1 voxels, 3 time points
		Pixdim:   [8]float64{1, 3, 3, 3, 2.5},
		SclSlope: 0.5, SclInter: 10,
	}}
	img.Data = make([]byte, 2*img.NumVoxels())
	for i := range img.NumVoxels() {
		img.Data[2*i] = byte(i) // little-endian int16 values 0..11
	}
	var buf bytes.Buffer
	if err := nifti.Write(&buf, img, &nifti.WriteOptions{Compress: true}); err != nil {
		log.Fatal(err)
	}
	back, err := nifti.Read(&buf, nil)
	if err != nil {
		log.Fatal(err)
	}
	v, err := back.Volume(2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.Header.Shape(), back.NumFrames(), v.Dims, v.Data)
	fmt.Println(v.Spacing()) // no sform/qform: nibabel's base affine
	// Output:
	// [2 2 1 3] 3 [2 2 1] [14 14.5 15 15.5]
	// [3 3 3]
}
