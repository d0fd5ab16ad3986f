package main

import (
	"fmt"
	"math"

	"github.com/metasurv/metasurv/internal/synth"
	"github.com/metasurv/metasurv/volume"
)

// Agreement thresholds between the two acquisitions after reorientation
// and resizing. They differ only by sampling (partial volume at tissue
// borders), so they must agree closely but not exactly.
const (
	minCorrelation = 0.98
	maxAffineDiff  = 1e-3 // mm: both grids cover the same box
)

// compare checks that the two resized acquisitions describe the same head.
func compare(a, b *volume.Volume) error {
	if affineDiff(a.Affine, b.Affine) > maxAffineDiff {
		return fmt.Errorf("the two 96³ grids differ: affines %v and %v", a.Affine, b.Affine)
	}
	r, mad := correlation(a.Data, b.Data)
	fmt.Printf("agreement on the 96³ grid: Pearson r = %.4f, mean |A−B| = %.4f (white matter = 0.80)\n", r, mad)
	if r < minCorrelation {
		return fmt.Errorf("acquisitions disagree: r = %.4f < %.2f", r, minCorrelation)
	}
	return nil
}

// affineDiff is the largest absolute difference between two affines.
func affineDiff(a, b volume.Affine) float64 {
	var d float64
	for r := 0; r < 4; r++ {
		for c := 0; c < 4; c++ {
			d = math.Max(d, math.Abs(a[r][c]-b[r][c]))
		}
	}
	return d
}

func correlation(x, y []float32) (r, meanAbsDiff float64) {
	var sx, sy, sxx, syy, sxy, sad float64
	for i := range x {
		a, b := float64(x[i]), float64(y[i])
		sx += a
		sy += b
		sxx += a * a
		syy += b * b
		sxy += a * b
		sad += math.Abs(a - b)
	}
	n := float64(len(x))
	cov := sxy/n - sx/n*sy/n
	r = cov / math.Sqrt((sxx/n-sx*sx/n/n)*(syy/n-sy*sy/n/n))
	return r, sad / n
}

// stackSequences builds the four-sequence model input on scanner A's grid.
func stackSequences() error {
	dims, affine, err := synth.Grid(fov, [3]float64{2, 2, 2}, "RAS")
	if err != nil {
		return err
	}
	seqs, err := synth.Patient(dims, affine, synth.HeadOptions{Noise: 0.01, Seed: 1})
	if err != nil {
		return err
	}
	names := make([]string, len(seqs))
	for i, v := range seqs {
		names[i] = synth.Sequences[i].String()
		if seqs[i], err = v.Resize(target, volume.ResizeArea); err != nil {
			return err
		}
	}
	st, err := volume.NewStack(names, seqs)
	if err != nil {
		return err
	}
	fmt.Printf("model input: %v stack of %v, %.1f MB float32\n", names, st.Shape(), float64(4*len(st.Data))/1e6)
	return nil
}
