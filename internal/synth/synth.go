package synth

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/metasurv/metasurv/internal/parallel"
	"github.com/metasurv/metasurv/volume"
)

// Sequence is an MRI contrast of the study's four-sequence protocol.
type Sequence int

// The four sequences, in the order the models stack them.
const (
	T1 Sequence = iota
	T1c
	T2
	FLAIR
)

// Sequences lists the four sequences in stacking order.
var Sequences = []Sequence{T1, T1c, T2, FLAIR}

// String returns the sequence name used in stacks and reports.
func (s Sequence) String() string {
	switch s {
	case T1:
		return "T1"
	case T1c:
		return "T1c"
	case T2:
		return "T2"
	case FLAIR:
		return "FLAIR"
	}
	return fmt.Sprintf("Sequence(%d)", int(s))
}

// HeadOptions vary a phantom. The zero value is a noise-free, unbiased head
// centred at the world origin with the lesion in the right frontal lobe.
type HeadOptions struct {
	// Motion maps output world points to phantom world points, moving the
	// head rigidly (or by any affine). The zero value means identity.
	Motion volume.Affine
	// Lesion moves the lesion centre (mm, phantom space) and scales its
	// radius; a zero LesionRadius keeps the default 10 mm, a negative one
	// removes the lesion.
	Lesion       [3]float64
	LesionRadius float64
	// Lesions, if non-nil, replaces the single default lesion by these
	// metastases (an empty non-nil slice means none).
	Lesions []Lesion
	// Ventricles scales the lateral ventricles (they widen with age and
	// atrophy); zero means 1.
	Ventricles float64
	// Bias is the amplitude of a smooth multiplicative bias field
	// exp(Bias·b(x)) with b in [-1, 1] varying over the head: 0.2 gives
	// roughly ±20 %, like a receive-coil shading.
	Bias float64
	// Noise is the standard deviation of additive Gaussian noise, in the
	// phantom's intensity units (white matter in T1 is 0.8).
	Noise float64
	// Seed makes the noise reproducible.
	Seed uint64
}

// Lesion is one metastasis in phantom space (RAS+ mm, head centred at the
// origin): an enhancing rim of outer radius Radius around a necrotic core of
// radius Necrosis·Radius (zero: 0.6), inside vasogenic oedema reaching
// Oedema·Radius (values ≤ 1: 1.9) but confined to the brain.
type Lesion struct {
	Centre   [3]float64
	Radius   float64
	Necrosis float64
	Oedema   float64
}

// Grid returns the dims and affine of a grid that covers fov millimetres
// (along R, A, S) with the given voxel spacing per array axis, axis codes
// (e.g. "RAS", "LPS", "PIL") and the world origin at the centre of the
// field of view. Voxel edges, not centres, touch the field-of-view borders,
// so grids of different spacing cover exactly the same box.
func Grid(fov [3]float64, spacing [3]float64, codes string) ([3]int, volume.Affine, error) {
	c, err := volume.ParseCodes(codes)
	if err != nil {
		return [3]int{}, volume.Affine{}, err
	}
	var dims [3]int
	a := volume.Affine{3: {0, 0, 0, 1}}
	for ax := 0; ax < 3; ax++ {
		world, sign := worldAxis(c[ax])
		if spacing[ax] <= 0 || fov[world] <= 0 {
			return [3]int{}, volume.Affine{}, fmt.Errorf("synth: spacing %v and field of view %v must be positive", spacing, fov)
		}
		n := int(math.Round(fov[world] / spacing[ax]))
		if n < 1 {
			n = 1
		}
		dims[ax] = n
		a[world][ax] = sign * spacing[ax]
		// centre of voxel 0 is half a voxel inside the box edge on the side
		// the axis starts from.
		a[world][3] = -sign * (float64(n) - 1) * spacing[ax] / 2
	}
	return dims, a, nil
}

func worldAxis(code byte) (axis int, sign float64) {
	switch code {
	case 'R':
		return 0, 1
	case 'L':
		return 0, -1
	case 'A':
		return 1, 1
	case 'P':
		return 1, -1
	case 'S':
		return 2, 1
	default: // 'I'; ParseCodes has validated the letters
		return 2, -1
	}
}

// Head samples the phantom for one sequence on the grid (dims, affine).
func Head(seq Sequence, dims [3]int, affine volume.Affine, opt HeadOptions) (*volume.Volume, error) {
	if seq < T1 || seq > FLAIR {
		return nil, fmt.Errorf("synth: unknown sequence %d", int(seq))
	}
	v, err := volume.New(dims, affine)
	if err != nil {
		return nil, err
	}
	motion := opt.Motion
	if motion == (volume.Affine{}) {
		motion = volume.Identity()
	}
	toPhantom := motion.Mul(affine)
	an := anatomyOf(opt)
	nx, ny := dims[0], dims[1]
	parallel.For(dims[2], func(lo, hi int) {
		for k := lo; k < hi; k++ {
			for j := 0; j < ny; j++ {
				row := v.Data[nx*(j+ny*k):][:nx]
				for i := range row {
					p := toPhantom.Apply([3]float64{float64(i), float64(j), float64(k)})
					row[i] = float32(intensity(seq, p, &an))
				}
			}
		}
	})
	if opt.Noise > 0 {
		rng := rand.New(rand.NewPCG(opt.Seed, uint64(seq)+1))
		for i := range v.Data {
			v.Data[i] += float32(opt.Noise * rng.NormFloat64())
		}
	}
	return v, nil
}

// Patient samples all four sequences on one grid with the same options.
func Patient(dims [3]int, affine volume.Affine, opt HeadOptions) ([]*volume.Volume, error) {
	vols := make([]*volume.Volume, len(Sequences))
	for i, s := range Sequences {
		o := opt
		o.Seed = opt.Seed*4 + uint64(i)
		v, err := Head(s, dims, affine, o)
		if err != nil {
			return nil, err
		}
		vols[i] = v
	}
	return vols, nil
}

// BrainMask returns the phantom's brain (grey and white matter, ventricles
// and lesion: everything inside the CSF layer) on the grid (dims, affine),
// under the same Motion as Head: the skull-stripping ground truth, and the
// atlas brain mask when a phantom serves as the atlas.
func BrainMask(dims [3]int, affine volume.Affine, opt HeadOptions) (*volume.Mask, error) {
	m, err := volume.NewMask(dims)
	if err != nil {
		return nil, err
	}
	motion := opt.Motion
	if motion == (volume.Affine{}) {
		motion = volume.Identity()
	}
	toPhantom := motion.Mul(affine)
	nx, ny := dims[0], dims[1]
	parallel.For(dims[2], func(lo, hi int) {
		for k := lo; k < hi; k++ {
			for j := 0; j < ny; j++ {
				row := m.Data[nx*(j+ny*k):][:nx]
				for i := range row {
					p := toPhantom.Apply([3]float64{float64(i), float64(j), float64(k)})
					row[i] = brain.membership(p) >= 0.5
				}
			}
		}
	})
	return m, nil
}
