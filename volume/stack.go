package volume

import "fmt"

// Stack is several channels on one grid — the model input, e.g. the four
// MRI sequences T1, T1c, T2, FLAIR. Data is in tensor order C, D, H, W with
// D = i, H = j, W = k (W fastest): index = ((c·Nx + i)·Ny + j)·Nz + k, the
// layout MONAI sees after loading with nibabel, so weights trained in MONAI
// apply unchanged and nn can wrap Data without copying.
type Stack struct {
	Dims    [3]int    // Nx, Ny, Nz shared by every channel
	Affine  Affine    // voxel → world (RAS+ mm)
	Names   []string  // one per channel, e.g. "T1", "T1c", "T2", "FLAIR"
	Present []bool    // false for a channel that was missing and zero-filled
	Data    []float32 // len = C·Nx·Ny·Nz in C, D, H, W order
}

// Channels returns the number of channels.
func (s *Stack) Channels() int { return len(s.Names) }

// Shape returns the tensor shape (C, D, H, W) of Data.
func (s *Stack) Shape() [4]int { return [4]int{len(s.Names), s.Dims[0], s.Dims[1], s.Dims[2]} }

// NewStack stacks volumes that share one grid into C, D, H, W order. A nil
// volume is a missing channel: it is zero-filled and marked not present.
// At least one volume must be non-nil, and all must have the same dims
// and affine.
func NewStack(names []string, vols []*Volume) (*Stack, error) {
	if len(names) != len(vols) {
		return nil, fmt.Errorf("%w: %d names for %d volumes", ErrShape, len(names), len(vols))
	}
	var ref *Volume
	for _, v := range vols {
		if v != nil {
			ref = v
			break
		}
	}
	if ref == nil {
		return nil, fmt.Errorf("%w: stack of %d channels has no volume", ErrShape, len(vols))
	}
	for c, v := range vols {
		if v == nil {
			continue
		}
		if err := v.check(); err != nil {
			return nil, fmt.Errorf("volume: stack channel %q: %w", names[c], err)
		}
		if v.Dims != ref.Dims || v.Affine != ref.Affine {
			return nil, fmt.Errorf("%w: channel %q has dims %v, want %v on the same affine",
				ErrShape, names[c], v.Dims, ref.Dims)
		}
	}
	n := len(ref.Data)
	s := &Stack{Dims: ref.Dims, Affine: ref.Affine, Names: append([]string(nil), names...),
		Present: make([]bool, len(vols)), Data: make([]float32, len(vols)*n)}
	nx, ny, nz := ref.Dims[0], ref.Dims[1], ref.Dims[2]
	for c, v := range vols {
		if v == nil {
			continue
		}
		s.Present[c] = true
		dst := s.Data[c*n : (c+1)*n]
		for k := 0; k < nz; k++ {
			for j := 0; j < ny; j++ {
				src := v.Data[nx*(j+ny*k):]
				for i := 0; i < nx; i++ {
					dst[(i*ny+j)*nz+k] = src[i]
				}
			}
		}
	}
	return s, nil
}

// Channel returns channel c as a Volume (copied into NIfTI order).
func (s *Stack) Channel(c int) (*Volume, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if c < 0 || c >= len(s.Names) {
		return nil, fmt.Errorf("%w: channel %d out of range [0,%d)", ErrInvalid, c, len(s.Names))
	}
	v, err := New(s.Dims, s.Affine)
	if err != nil {
		return nil, err
	}
	n := len(v.Data)
	src := s.Data[c*n : (c+1)*n]
	nx, ny, nz := s.Dims[0], s.Dims[1], s.Dims[2]
	for i := 0; i < nx; i++ {
		for j := 0; j < ny; j++ {
			row := src[(i*ny+j)*nz:]
			for k := 0; k < nz; k++ {
				v.Data[i+nx*(j+ny*k)] = row[k]
			}
		}
	}
	return v, nil
}

// Tensor returns Data with its shape (C, D, H, W), ready for nn to wrap
// without copying.
func (s *Stack) Tensor() ([]float32, [4]int) { return s.Data, s.Shape() }

// Resize resizes every channel to dims with mode, exactly as Volume.Resize
// does each one (MONAI Resize on the C, D, H, W tensor), and scales the
// affine by ResizeAffine. Missing channels stay zero and not present.
func (s *Stack) Resize(dims [3]int, mode ResizeMode) (*Stack, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if len(s.Present) != len(s.Names) {
		return nil, fmt.Errorf("%w: stack of %d names and %d presence flags", ErrShape, len(s.Names), len(s.Present))
	}
	vols := make([]*Volume, len(s.Names))
	for c := range vols {
		if !s.Present[c] {
			continue
		}
		v, err := s.Channel(c)
		if err != nil {
			return nil, err
		}
		if vols[c], err = v.Resize(dims, mode); err != nil {
			return nil, fmt.Errorf("volume: resizing channel %q: %w", s.Names[c], err)
		}
	}
	return NewStack(s.Names, vols)
}

// check verifies that s is not nil and that its data holds one channel
// of its dims per name.
func (s *Stack) check() error {
	if s == nil {
		return fmt.Errorf("%w: nil stack", ErrShape)
	}
	n, err := NumVoxels(s.Dims)
	if err != nil {
		return err
	}
	if len(s.Data) != len(s.Names)*n {
		return fmt.Errorf("%w: stack of %d names, %d presence flags and %d values for dims %v",
			ErrShape, len(s.Names), len(s.Present), len(s.Data), s.Dims)
	}
	return nil
}
