package nifti_test

import (
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
	got, err := nifti.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Dims, got.Spacing(), got.At(3, 2, 1))
	fmt.Println(got.Affine[0])
	// Output:
	// [4 3 2] [2 2 2] 11.5
	// [-2 0 0 90]
}
