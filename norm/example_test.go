package norm_test

import (
	"context"
	"fmt"

	"github.com/metasurv/metasurv/internal/synth"
	"github.com/metasurv/metasurv/norm"
	"github.com/metasurv/metasurv/volume"
)

// Z-scoring over the nonzero (brain) voxels leaves the background at zero.
func ExampleZScore() {
	v, _ := volume.FromData([3]int{5, 1, 1}, volume.Identity(), []float32{0, 2, 4, 6, 0})
	out, err := norm.Apply(v, norm.ZScore{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.3f\n", out.Data)
	// Output: [0.000 -1.225 0.000 1.225 0.000]
}

// Morphology cleans a thresholded brain: the largest component drops an
// island, hole filling restores a dark ventricle.
func ExampleFillHoles() {
	m, _ := volume.NewMask([3]int{7, 7, 7})
	for k := 1; k < 6; k++ {
		for j := 1; j < 6; j++ {
			for i := 1; i < 6; i++ {
				m.Data[i+7*(j+7*k)] = true
			}
		}
	}
	m.Data[3+7*(3+7*3)] = false // a ventricle
	m.Data[0] = true            // an island
	brain, _ := volume.LargestComponent(m, volume.Conn6)
	brain, _ = volume.FillHoles(brain)
	fmt.Println("island:", brain.Data[0], "ventricle:", brain.Data[3+7*(3+7*3)], "voxels:", brain.Count())
	// Output: island: false ventricle: true voxels: 125
}

// Preprocess takes four sequences in any orientation and spacing and
// returns the model's stacked input on the atlas grid.
func ExamplePreprocess() {
	// an atlas (T1 phantom, RAS, 4 mm) and its brain mask
	dims, aff, _ := synth.Grid([3]float64{168, 200, 176}, [3]float64{4, 4, 4}, "RAS")
	atlas, _ := synth.Head(synth.T1, dims, aff, synth.HeadOptions{LesionRadius: -1})
	mask, _ := volume.NewMask(dims)
	for idx := range mask.Data {
		p := aff.Apply([3]float64{float64(idx % dims[0]), float64(idx / dims[0] % dims[1]), float64(idx / (dims[0] * dims[1]))})
		x, y, z := p[0]/62, p[1]/80, (p[2]-4)/64 // synth's brain ellipsoid
		mask.Data[idx] = x*x+y*y+z*z <= 1
	}
	// a patient scanned LPS at 3 mm, head moved by 5 mm, FLAIR missing
	pd, pa, _ := synth.Grid([3]float64{210, 240, 210}, [3]float64{3, 3, 3}, "LPS")
	vols, _ := synth.Patient(pd, pa, synth.HeadOptions{Motion: volume.Translation([3]float64{5, 0, 0}), Bias: 0.1})
	seqs := norm.Sequences{T1: vols[0], T1c: vols[1], T2: vols[2]}

	st, rep, err := norm.Preprocess(context.Background(), seqs, atlas, norm.Options{
		AtlasMask: mask, Missing: norm.MissingZeroFill, Target: [3]int{32, 32, 32}})
	if err != nil {
		panic(err)
	}
	// the head was moved by +5 mm along x: atlas point 0 maps to x ≈ −5 mm
	shift := rep.Sequences[1].AtlasToImage.Apply([3]float64{0, 0, 0})
	fmt.Println(st.Shape(), st.Present, rep.Hub, rep.Missing)
	fmt.Printf("T1c shift %.0f mm\n", shift[0])
	// Output:
	// [4 32 32 32] [true true true false] T1c [FLAIR]
	// T1c shift -5 mm
}
