package volume_test

import (
	"fmt"

	"github.com/metasurv/metasurv/volume"
)

// A scan stored in LPS order (as DICOM converters sometimes write it) is
// brought to RAS without interpolation: voxels move, world positions stay.
func ExampleVolume_Reorient() {
	lps := volume.Affine{{-2, 0, 0, 90}, {0, -2, 0, 126}, {0, 0, 2, -72}, {0, 0, 0, 1}}
	v, _ := volume.New([3]int{91, 109, 91}, lps)
	v.Set(0, 0, 0, 1) // the voxel at world (90, 126, -72)
	fmt.Println(v.AxCodes())

	r, _ := v.Canonical()
	fmt.Println(r.AxCodes(), r.Dims)
	fmt.Println(r.Affine[0], r.Affine[1])
	fmt.Println(r.At(90, 108, 0), r.Affine.Apply([3]float64{90, 108, 0}))
	// Output:
	// LPS
	// RAS [91 109 91]
	// [2 0 0 -90] [0 2 0 -90]
	// 1 [90 126 -72]
}

// Shrinking a volume to the model's 96³ input keeps its world box.
func ExampleVolume_Resize() {
	v, _ := volume.New([3]int{192, 192, 192}, volume.Identity())
	for i := range v.Data {
		v.Data[i] = float32(i % 192) // a ramp along i
	}
	r, _ := v.Resize([3]int{96, 96, 96}, volume.ResizeArea)
	fmt.Println(r.Dims, r.At(0, 0, 0), r.At(95, 0, 0))
	fmt.Println(r.Affine[0])
	// Output:
	// [96 96 96] 0.5 190.5
	// [2 0 0 0.5]
}

// Resampling a 0.5 mm scan to 1 mm keeps voxel (0,0,0) where it was and
// takes MONAI Spacing's output shape.
func ExampleVolume_ResampleToSpacing() {
	a := volume.Affine{{0.5, 0, 0, -42}, {0, 0.5, 0, -57.5}, {0, 0, 0.5, -30}, {0, 0, 0, 1}}
	v, _ := volume.New([3]int{168, 206, 128}, a)
	r, _ := v.ResampleToSpacing([3]float64{1, 1, 1}, volume.SpacingOptions{})
	fmt.Println(r.Dims)
	fmt.Println(r.Affine)
	// Output:
	// [84 104 64]
	// [[1 0 0 -42] [0 1 0 -57.5] [0 0 1 -30] [0 0 0 1]]
}

// Percentiles and moments over a brain mask feed intensity normalisation.
func ExamplePercentiles() {
	v, _ := volume.New([3]int{4, 1, 1}, volume.Identity())
	copy(v.Data, []float32{0, 10, 20, 40})
	brain, _ := volume.NonzeroMask(v)
	p, _ := v.Percentiles(brain, 0.5, 50, 99.5)
	st, _ := v.Stats(brain)
	fmt.Printf("%.2f %+v\n", p, st)
	// Output:
	// [10.10 20.00 39.80] {N:3 Mean:23.333333333333332 Std:12.472191289246473 Min:10 Max:40}
}

// A registration result is applied by resampling the moving image on the
// fixed grid through the world transform.
func ExampleResample() {
	moving, _ := volume.New([3]int{3, 3, 3}, volume.Identity())
	moving.Set(1, 1, 1, 8)
	shift := volume.Translation([3]float64{0.5, 0, 0}) // fixed world → moving world
	out, _ := volume.Resample(moving, moving.Dims, moving.Affine, shift, volume.Sampler{})
	fmt.Println(out.At(0, 1, 1), out.At(1, 1, 1), out.At(2, 1, 1))
	// Output: 4 4 0
}
