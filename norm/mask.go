package norm

import (
	"context"
	"fmt"

	"github.com/metasurv/metasurv/register"
	"github.com/metasurv/metasurv/volume"
)

// Stripper computes a brain mask on the grid of an image. The pipeline
// takes any Stripper, so a learned skull stripper (an HD-BET-style U-Net)
// can replace the classical ones without touching Preprocess.
type Stripper interface {
	Strip(ctx context.Context, v *volume.Volume) (*volume.Mask, error)
}

// Refine configures the morphological clean-up of a brain mask: keep the
// largest 6-connected component, fill holes, then close with a ball.
// The zero value does all three with a 2 mm ball.
type Refine struct {
	// Skip returns the mask unchanged.
	Skip bool
	// CloseRadius is the closing ball radius in mm; 0 means 2, negative
	// disables the closing.
	CloseRadius float64
}

// Apply refines m, a mask on a grid with the given voxel spacing (mm).
func (r Refine) Apply(m *volume.Mask, spacing [3]float64) (*volume.Mask, error) {
	if r.Skip {
		return m, nil
	}
	m, err := volume.LargestComponent(m, volume.Conn6)
	if err != nil {
		return nil, err
	}
	rad := r.CloseRadius
	if rad == 0 {
		rad = 2
	}
	if rad > 0 {
		if m, err = volume.Close(m, volume.Element{Radius: rad, Spacing: spacing}); err != nil {
			return nil, err
		}
	}
	return volume.FillHoles(m)
}

// AtlasStripper propagates an atlas's brain mask to the subject: it
// registers the atlas to the image (rigid, Mattes MI on a random subset of
// points unless Registration says otherwise), resamples the mask onto the
// image grid with trilinear interpolation, keeps values above 0.5 and
// refines the result by morphology.
type AtlasStripper struct {
	// Atlas is a head image of the same contrast family as the subjects
	// (with skull, as the subjects are).
	Atlas *volume.Volume
	// AtlasMask is the atlas's brain mask on Atlas's grid, e.g.
	// volume.NonzeroMask of a skull-stripped atlas.
	AtlasMask *volume.Mask
	// Registration configures atlas → subject registration; the zero value
	// is register's default rigid Mattes-MI registration.
	Registration register.Options
	// SameGrid declares the images already on the atlas grid (as inside
	// Preprocess after resampling): no registration, the atlas mask is
	// used as is (then refined).
	SameGrid bool
	// Refine configures the morphological clean-up.
	Refine Refine
}

// Strip returns the brain mask of v.
func (s *AtlasStripper) Strip(ctx context.Context, v *volume.Volume) (*volume.Mask, error) {
	m, _, err := s.StripRegistered(ctx, v)
	return m, err
}

// StripRegistered is Strip that also returns the registration (atlas
// world → image world); with SameGrid the result is the identity.
func (s *AtlasStripper) StripRegistered(ctx context.Context, v *volume.Volume) (*volume.Mask, register.Result, error) {
	res := register.Result{Matrix: volume.Identity()}
	if s.AtlasMask == nil || v == nil {
		return nil, res, fmt.Errorf("%w: atlas stripping needs an atlas mask and an image", ErrMask)
	}
	if err := checkMask(s.AtlasMask); err != nil {
		return nil, res, err
	}
	if s.SameGrid {
		if v.Dims != s.AtlasMask.Dims {
			return nil, res, fmt.Errorf("%w: image dims %v differ from atlas mask dims %v on the same grid", ErrMask, v.Dims, s.AtlasMask.Dims)
		}
		m, err := s.Refine.Apply(&volume.Mask{Dims: v.Dims, Data: append([]bool(nil), s.AtlasMask.Data...)}, v.Spacing())
		return m, res, err
	}
	if s.Atlas == nil || s.Atlas.Dims != s.AtlasMask.Dims {
		return nil, res, fmt.Errorf("%w: atlas mask must lie on the atlas grid", ErrMask)
	}
	res, err := register.Register(ctx, v, s.Atlas, s.Registration)
	if err != nil {
		return nil, res, fmt.Errorf("norm: atlas registration: %w", err)
	}
	m, err := PropagateMask(s.AtlasMask, s.Atlas.Affine, v, res.Matrix)
	if err != nil {
		return nil, res, err
	}
	m, err = s.Refine.Apply(m, v.Spacing())
	return m, res, err
}

// PropagateMask resamples a mask given on a grid with affine maskAffine
// onto v's grid through m (v world → mask world), trilinearly, keeping
// the voxels above 0.5.
func PropagateMask(mask *volume.Mask, maskAffine volume.Affine, v *volume.Volume, m volume.Affine) (*volume.Mask, error) {
	if err := checkMask(mask); err != nil {
		return nil, err
	}
	if err := checkVolume("image", v); err != nil {
		return nil, err
	}
	mv, err := volume.New(mask.Dims, maskAffine)
	if err != nil {
		return nil, err
	}
	for i, b := range mask.Data {
		if b {
			mv.Data[i] = 1
		}
	}
	r, err := register.Resample(mv, register.GridOf(v), m, volume.Linear, 0)
	if err != nil {
		return nil, fmt.Errorf("norm: resampling the atlas mask: %w", err)
	}
	return volume.ThresholdMask(r, 0.5+1e-6, float32(1e30))
}
