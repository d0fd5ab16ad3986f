package cli

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/metasurv/metasurv/volume"
)

// TestBoxSumBruteForce checks the running-sum box filter against a direct
// sum over the clipped cube on a non-cubic grid.
func TestBoxSumBruteForce(t *testing.T) {
	dims := [3]int{7, 5, 6}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, dims[0]*dims[1]*dims[2])
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for _, r := range [][3]int{{0, 0, 0}, {1, 1, 1}, {3, 2, 1}} {
		got := boxSum(x, dims, r)
		for k := 0; k < dims[2]; k++ {
			for j := 0; j < dims[1]; j++ {
				for i := 0; i < dims[0]; i++ {
					var want float64
					for c := max(k-r[2], 0); c <= min(k+r[2], dims[2]-1); c++ {
						for b := max(j-r[1], 0); b <= min(j+r[1], dims[1]-1); b++ {
							for a := max(i-r[0], 0); a <= min(i+r[0], dims[0]-1); a++ {
								want += float64(x[a+dims[0]*(b+dims[1]*c)])
							}
						}
					}
					if g := float64(got[i+dims[0]*(j+dims[1]*k)]); math.Abs(g-want) > 1e-4 {
						t.Fatalf("r %v at (%d,%d,%d): %g, want %g", r, i, j, k, g, want)
					}
				}
			}
		}
	}
}

// TestRadiomicsSequenceSlot checks that EmbedAll's shortcut (the slot of
// the four-sequence embedding) equals EmbedSequence, and that a bright
// blob raises the bright-voxel shares of its channel only.
func TestRadiomicsSequenceSlot(t *testing.T) {
	d := [3]int{20, 20, 20}
	n := d[0] * d[1] * d[2]
	st := &volume.Stack{Dims: d, Affine: volume.Identity(), Names: SequenceNames[:], Present: []bool{true, true, false, true}, Data: make([]float32, 4*n)}
	rng := rand.New(rand.NewPCG(3, 4))
	for c := 0; c < 4; c++ {
		if !st.Present[c] {
			continue
		}
		for i := 0; i < n; i++ {
			x, y, z := i%d[0]-10, (i/d[0])%d[1]-10, i/(d[0]*d[1])-10
			if x*x+y*y+z*z < 64 {
				st.Data[c*n+i] = float32(0.3 * rng.NormFloat64())
				if c == 1 && (x-2)*(x-2)+y*y+z*z < 4 {
					st.Data[c*n+i] += 4
				}
			}
		}
	}
	r := Radiomics{}
	all, err := r.Embed(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s < 4; s++ {
		want, err := r.EmbedSequence(context.Background(), st, s)
		if err != nil {
			t.Fatal(err)
		}
		got := r.sequenceSlot(all, s)
		for i := range want {
			if !(got[i] == want[i] || math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
				t.Fatalf("sequence %d feature %d: slot %g, EmbedSequence %g", s, i, got[i], want[i])
			}
		}
	}
	k := len(radiomicsNames)
	hp := indexOf(radiomicsNames, "log_hp_gt2")
	if t1c, t1 := all[k+hp], all[hp]; !(t1c > t1+0.5) {
		t.Errorf("high-pass bright share: T1c with a blob %g, T1 without %g", t1c, t1)
	}
	if !math.IsNaN(float64(all[2*k])) {
		t.Errorf("absent T2 gives %g, want NaN", all[2*k])
	}
}

func indexOf(names []string, name string) int {
	for i, s := range names {
		if s == name {
			return i
		}
	}
	return -1
}

// TestBrainBoxCountNonCubic checks that the high-pass box runs along the
// stack's own axes on a non-cubic, anisotropic grid: the count of brain
// voxels in the box around each voxel equals a direct count in (i, j, k)
// with each axis's half side from its spacing.
func TestBrainBoxCountNonCubic(t *testing.T) {
	d := [3]int{9, 6, 11}
	n := d[0] * d[1] * d[2]
	a := volume.Identity()
	a[0][0], a[1][1], a[2][2] = 3, 9, 4.5 // half sides 3, 1, 2 voxels
	st := &volume.Stack{Dims: d, Affine: a, Names: SequenceNames[:], Present: []bool{true, true, true, true}, Data: make([]float32, 4*n)}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < n; i++ {
		if rng.Float64() < 0.6 {
			st.Data[i] = 1
		}
	}
	b := newBrain(st)
	r := [3]int{3, 1, 2}
	for i := 0; i < d[0]; i++ {
		for j := 0; j < d[1]; j++ {
			for k := 0; k < d[2]; k++ {
				want := 0
				for x := max(i-r[0], 0); x <= min(i+r[0], d[0]-1); x++ {
					for y := max(j-r[1], 0); y <= min(j+r[1], d[1]-1); y++ {
						for z := max(k-r[2], 0); z <= min(k+r[2], d[2]-1); z++ {
							if b.in[(x*d[1]+y)*d[2]+z] {
								want++
							}
						}
					}
				}
				if got := b.count[(i*d[1]+j)*d[2]+k]; got != float32(want) {
					t.Fatalf("(%d,%d,%d): %g brain voxels in the box, want %d", i, j, k, got, want)
				}
			}
		}
	}
}
