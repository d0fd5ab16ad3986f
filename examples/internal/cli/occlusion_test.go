package cli

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/metasurv/metasurv/internal/synth"
	"github.com/metasurv/metasurv/volume"
)

// phantomStack renders the synthetic head with lesions straight on a
// coarse grid in phantom space (the atlas space of the commands) and
// z-scores each sequence inside the brain with zero outside, as
// preprocessing leaves it; it returns the stack and, per stack voxel,
// whether it lies inside a lesion's enhancing rim.
func phantomStack(t *testing.T, lesions []synth.Lesion) (*volume.Stack, []bool) {
	t.Helper()
	dims, a, err := synth.Grid([3]float64{180, 216, 180}, [3]float64{5, 5, 5}, "RAS")
	if err != nil {
		t.Fatal(err)
	}
	o := synth.HeadOptions{Lesions: lesions, Noise: 0.03, Bias: 0.1, Seed: 7}
	vols, err := synth.Patient(dims, a, o)
	if err != nil {
		t.Fatal(err)
	}
	m, err := synth.BrainMask(dims, a, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vols {
		var s, s2, k float64
		for i, in := range m.Data {
			if in {
				x := float64(v.Data[i])
				s, s2, k = s+x, s2+x*x, k+1
			}
		}
		mean := s / k
		sd := math.Sqrt(s2/k - mean*mean)
		for i, in := range m.Data {
			if in {
				v.Data[i] = float32((float64(v.Data[i]) - mean) / sd)
			} else {
				v.Data[i] = 0
			}
		}
	}
	st, err := volume.NewStack(SequenceNames[:], vols)
	if err != nil {
		t.Fatal(err)
	}
	inLesion := make([]bool, len(m.Data))
	for i := 0; i < dims[0]; i++ {
		for j := 0; j < dims[1]; j++ {
			for k := 0; k < dims[2]; k++ {
				p := a.Apply([3]float64{float64(i), float64(j), float64(k)})
				for _, l := range lesions {
					if math.Hypot(math.Hypot(p[0]-l.Centre[0], p[1]-l.Centre[1]), p[2]-l.Centre[2]) <= l.Radius {
						inLesion[(i*dims[1]+j)*dims[2]+k] = true
					}
				}
			}
		}
	}
	return st, inLesion
}

// TestOcclusionFindsLesions checks that the occlusion map answers "how
// much does this region's content raise the risk": under a risk that
// grows with the bright (enhancing) volume of T1c and FLAIR read by the
// Radiomics embedding, the map is clearly higher inside the planted
// lesions than in the rest of the brain, its hottest cubes are not all on
// the brain's border, and no occluded stack has a different brain mask
// from the patient's (the cause of the old edge artefact).
func TestOcclusionFindsLesions(t *testing.T) {
	lesions := []synth.Lesion{
		{Centre: [3]float64{30, 30, 20}, Radius: 12},
		{Centre: [3]float64{-35, -20, 5}, Radius: 10},
	}
	st, inLesion := phantomStack(t, lesions)
	ctx := context.Background()
	mask := brainMask(st)
	var e Radiomics
	k := len(radiomicsNames)
	var terms []int
	for _, seq := range []int{1, 3} {
		for _, f := range []string{"log_gt2", "log_gt2.5", "log_hp_gt1", "log_hp_gt1.5"} {
			terms = append(terms, seq*k+indexOf(radiomicsNames, f))
		}
	}
	maskMoved := 0
	risk := func(s *volume.Stack) (float64, error) {
		if !slices.Equal(brainMask(s), mask) {
			maskMoved++
		}
		v, err := e.Embed(ctx, s)
		if err != nil {
			return 0, err
		}
		var r float64
		for _, j := range terms {
			r += float64(v[j])
		}
		return r, nil
	}
	base, err := risk(st)
	if err != nil {
		t.Fatal(err)
	}
	cube := 5
	sal, err := occlusion(ctx, st, PredictOptions{Cube: cube}, risk, base)
	if err != nil {
		t.Fatal(err)
	}
	if maskMoved > 0 {
		t.Errorf("%d occluded stacks changed the brain mask", maskMoved)
	}
	d := st.Dims
	var in, out float64
	var nIn, nOut int
	type cubeDrop struct {
		drop   float64
		border bool
	}
	var cubes []cubeDrop
	for i := 0; i < d[0]; i++ {
		for j := 0; j < d[1]; j++ {
			for kk := 0; kk < d[2]; kk++ {
				v := (i*d[1]+j)*d[2] + kk
				if !mask[v] {
					continue
				}
				x := float64(sal.At(i, j, kk))
				if inLesion[v] {
					in, nIn = in+x, nIn+1
				} else {
					out, nOut = out+x, nOut+1
				}
			}
		}
	}
	// one entry per cube that touches the brain: its drop, and whether it
	// also holds voxels outside the brain (a border cube)
	for i0 := 0; i0 < d[0]; i0 += cube {
		for j0 := 0; j0 < d[1]; j0 += cube {
			for k0 := 0; k0 < d[2]; k0 += cube {
				c := cubeDrop{drop: math.NaN()}
				for i := i0; i < min(i0+cube, d[0]); i++ {
					for j := j0; j < min(j0+cube, d[1]); j++ {
						for kk := k0; kk < min(k0+cube, d[2]); kk++ {
							if mask[(i*d[1]+j)*d[2]+kk] {
								c.drop = float64(sal.At(i, j, kk))
							} else {
								c.border = true
							}
						}
					}
				}
				if !math.IsNaN(c.drop) {
					cubes = append(cubes, c)
				}
			}
		}
	}
	in /= float64(nIn)
	out /= float64(nOut)
	t.Logf("mean risk drop inside the lesions %.4f (%d voxels), elsewhere in the brain %.4f (%d voxels); %d cubes", in, nIn, out, nOut, len(cubes))
	if nIn == 0 || !(in > 0.05) || !(in > 5*math.Abs(out)) {
		t.Errorf("inside the lesions %g, outside %g: want clearly positive inside and ≥ 5× the outside magnitude", in, out)
	}
	slices.SortFunc(cubes, func(a, b cubeDrop) int { return -cmpFloat(a.drop, b.drop) })
	border := 0
	for _, c := range cubes[:5] {
		if c.border {
			border++
		}
	}
	if border == 5 {
		t.Errorf("the 5 hottest cubes all lie on the brain's border: %+v", cubes[:5])
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
