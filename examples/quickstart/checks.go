package main

// The checks of the phantom tour (-checks): the phantom written on two
// scanners' grids must survive the NIfTI round trip and agree after
// reorientation and resizing, the four sequences stack into the model
// input, and preprocessing a patient whose head moved between sequences
// recovers the motions to half a millimetre.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/metasurv/metasurv/internal/synth"
	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/volume"
)

// scanner describes one acquisition grid of the phantom.
type scanner struct {
	name    string
	codes   string
	spacing [3]float64
	file    string
}

var (
	fov      = [3]float64{180, 216, 180} // mm along R, A, S
	target   = [3]int{96, 96, 96}
	scanners = []scanner{
		{"scanner A", "RAS", [3]float64{1, 1, 1}, "t1_ras_1mm.nii.gz"},
		{"scanner B", "PIL", [3]float64{2, 1.2, 1.5}, "t1_pil_aniso.nii"},
	}
)

func runChecks(dir string) error {
	start := time.Now()
	if dir == "" {
		tmp, err := os.MkdirTemp("", "metasurv-quickstart-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	fmt.Println("phantom checks — NIfTI round trip, reorientation, registration")

	var resized []*volume.Volume
	for _, sc := range scanners {
		v, err := acquire(sc, dir)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		resized = append(resized, v)
	}
	if err := compare(resized[0], resized[1]); err != nil {
		return err
	}
	if err := stackSequences(); err != nil {
		return err
	}
	if err := preprocessPatient(context.Background()); err != nil {
		return err
	}
	fmt.Printf("checks passed in %.2f s\n", time.Since(start).Seconds())
	return nil
}

// acquire samples the phantom on the scanner's grid, writes it, reads it
// back, reorients it to RAS and resizes it to the model grid.
func acquire(sc scanner, dir string) (*volume.Volume, error) {
	dims, affine, err := synth.Grid(fov, sc.spacing, sc.codes)
	if err != nil {
		return nil, err
	}
	t1, err := synth.Head(synth.T1, dims, affine, synth.HeadOptions{})
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, sc.file)
	if err := nifti.Save(path, t1); err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	back, err := nifti.Load(path, nil)
	if err != nil {
		return nil, err
	}
	if err := sameVoxels(t1, back); err != nil {
		return nil, fmt.Errorf("NIfTI round trip: %w", err)
	}
	ras, err := back.Reorient(volume.RAS)
	if err != nil {
		return nil, err
	}
	small, err := ras.Resize(target, volume.ResizeArea)
	if err != nil {
		return nil, err
	}
	fmt.Printf("%s: %s %v voxels of %v mm, %s (%d kB) → RAS %v → %v\n",
		sc.name, back.AxCodes(), back.Dims, sc.spacing, sc.file, st.Size()/1024, ras.Dims, small.Dims)
	return small, nil
}

// sameVoxels checks a NIfTI round trip: voxels bit for bit, the affine to
// float32 precision (NIfTI-1 stores the sform as float32).
func sameVoxels(a, b *volume.Volume) error {
	if a.Dims != b.Dims || affineDiff(a.Affine, b.Affine) > 1e-4 {
		return fmt.Errorf("grid changed: %v %v → %v %v", a.Dims, a.Affine, b.Dims, b.Affine)
	}
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			return fmt.Errorf("voxel %d changed: %g → %g", i, a.Data[i], b.Data[i])
		}
	}
	return nil
}
