package main

import (
	"context"
	"fmt"
	"math"

	"github.com/metasurv/metasurv/internal/synth"
	"github.com/metasurv/metasurv/norm"
	"github.com/metasurv/metasurv/volume"
)

// acquisition is how one sequence of the synthetic patient was scanned:
// its grid, and how the head had moved (rotation about the S axis in
// degrees, translation in mm) relative to the atlas.
type acquisition struct {
	codes   string
	spacing [3]float64
	degrees float64
	shift   [3]float64
}

var (
	atlasSpacing = [3]float64{1.5, 1.5, 1.5}
	patient      = [4]acquisition{ // T1, T1c, T2, FLAIR
		{"LPS", [3]float64{2, 2, 2}, 3, [3]float64{4, -2, 3}},
		{"RAS", [3]float64{1.5, 1.5, 1.5}, -4, [3]float64{-3, 5, 2}},
		{"PIL", [3]float64{2, 1.5, 2.5}, 5, [3]float64{2, 3, -4}},
		{"LAS", [3]float64{1.5, 1.5, 3}, 2, [3]float64{-5, -1, 6}},
	}
	// maxMotionError is the largest mean displacement error over the brain
	// (mm) that the check accepts between the recovered and the true motion.
	maxMotionError = 0.5
)

// motion maps image world points to phantom (atlas) world points.
func (a acquisition) motion() volume.Affine {
	s, c := math.Sincos(a.degrees * math.Pi / 180)
	return volume.Affine{
		{c, -s, 0, a.shift[0]},
		{s, c, 0, a.shift[1]},
		{0, 0, 1, a.shift[2]},
		{0, 0, 0, 1},
	}
}

// preprocessPatient scans a synthetic patient on four different grids with
// head motion between sequences, runs the whole preprocessing pipeline onto
// a phantom atlas and checks the recovered motions against the truth.
func preprocessPatient(ctx context.Context) error {
	dims, affine, err := synth.Grid(fov, atlasSpacing, "RAS")
	if err != nil {
		return err
	}
	atlas, err := synth.Head(synth.T1, dims, affine, synth.HeadOptions{})
	if err != nil {
		return err
	}
	brain, err := synth.BrainMask(dims, affine, synth.HeadOptions{})
	if err != nil {
		return err
	}
	var vols [4]*volume.Volume
	for i, acq := range patient {
		d, a, err := synth.Grid(fov, acq.spacing, acq.codes)
		if err != nil {
			return err
		}
		opt := synth.HeadOptions{Motion: acq.motion(), Bias: 0.15, Noise: 0.01, Seed: uint64(i + 1)}
		if vols[i], err = synth.Head(synth.Sequences[i], d, a, opt); err != nil {
			return err
		}
	}
	stack, rep, err := norm.Preprocess(ctx,
		norm.Sequences{T1: vols[0], T1c: vols[1], T2: vols[2], FLAIR: vols[3]},
		atlas, norm.Options{AtlasMask: brain})
	if err != nil {
		return err
	}
	fmt.Printf("preprocessing: 4 sequences on 4 grids with head motion → %v stack (hub %s, %d brain voxels) in %.1f s\n",
		stack.Shape(), rep.Hub, rep.MaskVoxels, rep.Seconds)
	for i, s := range rep.Sequences {
		if s.AtlasToImage == nil {
			return fmt.Errorf("%s: no transform reported", s.Name)
		}
		e, err := motionError(*s.AtlasToImage, patient[i].motion(), atlas, brain)
		if err != nil {
			return err
		}
		fmt.Printf("  %-5s %s %v mm: motion %+.0f° %v mm recovered to %.2f mm\n",
			s.Name, s.Orientation, s.Spacing, patient[i].degrees, patient[i].shift, e)
		if e > maxMotionError {
			return fmt.Errorf("%s: registration off by %.2f mm (> %.1f)", s.Name, e, maxMotionError)
		}
	}
	return nil
}

// motionError is the mean distance over the atlas brain between where the
// recovered transform (atlas world → image world) and the true one (the
// inverse of the motion) send each point.
func motionError(got volume.Affine, motion volume.Affine, atlas *volume.Volume, brain *volume.Mask) (float64, error) {
	truth, err := motion.Inverse()
	if err != nil {
		return 0, err
	}
	var sum float64
	var n int
	for k := 0; k < atlas.Dims[2]; k += 2 {
		for j := 0; j < atlas.Dims[1]; j += 2 {
			for i := 0; i < atlas.Dims[0]; i += 2 {
				if !brain.Data[atlas.Index(i, j, k)] {
					continue
				}
				x := atlas.Affine.Apply([3]float64{float64(i), float64(j), float64(k)})
				a, b := got.Apply(x), truth.Apply(x)
				sum += math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
				n++
			}
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("empty atlas brain mask")
	}
	return sum / float64(n), nil
}
