package nifti

import (
	"fmt"

	"github.com/metasurv/metasurv/volume"
)

// Image is a NIfTI image without loss: the header, the extensions and the
// raw voxel bytes of every volume (3-D, 4-D time series, 5-D vectors ...).
//
// Data holds the stored (unscaled) values in NIfTI order (first dimension
// fastest) and always in little-endian byte order, whatever the order of
// the file; the writers convert back to Header.ByteOrder. Scalar datatypes
// convert to real values with Float32, Float64 and Volume, which apply
// scl_slope/scl_inter as nibabel does. Complex (complex64, complex128) and
// RGB (rgb24, rgba32) voxels are kept raw in Data — interleaved real/imag
// little-endian floats, or R,G,B[,A] bytes — and their conversion to real
// values is an ErrDatatype error rather than a silent choice of magnitude,
// real part or luminance.
type Image struct {
	Header     Header
	Extensions []Extension
	Data       []byte
}

// NumVoxels returns the total number of voxels of all volumes.
func (img *Image) NumVoxels() int {
	n, _ := img.Header.NumVoxels()
	return int(n)
}

// SpatialDims returns the size of the three spatial dimensions
// (1 for dimensions beyond Dim[0]).
func (img *Image) SpatialDims() [3]int {
	d := [3]int{1, 1, 1}
	for i := 0; i < 3 && i < img.Header.NDim(); i++ {
		d[i] = int(img.Header.Dim[i+1])
	}
	return d
}

// NumFrames returns the number of 3-D volumes: the product of Dim[4..],
// e.g. time points of an fMRI series or components of a vector field.
func (img *Image) NumFrames() int {
	n := 1
	for i := 4; i <= img.Header.NDim(); i++ {
		n *= int(img.Header.Dim[i])
	}
	return n
}

// Affine returns nibabel's best affine for the image (see Header.Affine).
func (img *Image) Affine() (volume.Affine, error) { return img.Header.Affine() }

// checkData verifies that Data agrees with the header.
func (img *Image) checkData() error {
	n, err := img.Header.DataBytes()
	if err != nil {
		return err
	}
	if int64(len(img.Data)) != n {
		return fmt.Errorf("%w: Data has %d bytes, header declares %d (%v %s)", ErrInvalidHeader, len(img.Data), n, img.Header.Shape(), img.Header.Datatype)
	}
	return nil
}

// scalarCheck returns an error unless the image holds real scalars.
func (img *Image) scalarCheck() error {
	if err := img.checkData(); err != nil {
		return err
	}
	if !img.Header.Datatype.Scalar() {
		return fmt.Errorf("%w: %s voxels have no single real value; read the raw Data", ErrDatatype, img.Header.Datatype)
	}
	return nil
}

// Float32 returns all voxels as scaled real values (stored·slope + inter,
// computed in float64 and rounded once, as nibabel's
// np.asanyarray(img.dataobj).astype(np.float32)).
func (img *Image) Float32() ([]float32, error) {
	if err := img.scalarCheck(); err != nil {
		return nil, err
	}
	out := make([]float32, img.NumVoxels())
	s, i := img.Header.SlopeInter()
	convert(out, img.Data, img.Header.Datatype, s, i)
	return out, nil
}

// Float64 returns all voxels as scaled real values in float64, exactly as
// nibabel's np.asanyarray(img.dataobj) when it scales (and converted
// exactly from the stored type otherwise).
func (img *Image) Float64() ([]float64, error) {
	if err := img.scalarCheck(); err != nil {
		return nil, err
	}
	out := make([]float64, img.NumVoxels())
	s, i := img.Header.SlopeInter()
	convert(out, img.Data, img.Header.Datatype, s, i)
	return out, nil
}

// Volume returns 3-D volume t (0 <= t < NumFrames) as scaled float32 with
// the image's best affine.
func (img *Image) Volume(t int) (*volume.Volume, error) {
	return img.volumeInto(t, nil, 0)
}

// volumeInto is Volume, converting into data when it has the right length
// (else into a new buffer), of which the first done voxels already hold
// their values.
func (img *Image) volumeInto(t int, data []float32, done int) (*volume.Volume, error) {
	if err := img.scalarCheck(); err != nil {
		return nil, err
	}
	if t < 0 || t >= img.NumFrames() {
		return nil, fmt.Errorf("%w: volume %d requested, image has %d", ErrInvalidHeader, t, img.NumFrames())
	}
	aff, err := img.Affine()
	if err != nil {
		return nil, err
	}
	dims := img.SpatialDims()
	n, err := volume.NumVoxels(dims)
	if err != nil {
		return nil, err
	}
	if len(data) != n || done < 0 || done > n {
		data, done = make([]float32, n), 0
	}
	v, err := volume.FromData(dims, aff, data)
	if err != nil {
		return nil, err
	}
	sz := img.Header.Datatype.Size()
	s, i := img.Header.SlopeInter()
	convert(v.Data[done:], img.Data[(t*n+done)*sz:(t+1)*n*sz], img.Header.Datatype, s, i)
	return v, nil
}

// Volumes returns every 3-D volume of the image (see Volume).
func (img *Image) Volumes() ([]*volume.Volume, error) {
	out := make([]*volume.Volume, img.NumFrames())
	for t := range out {
		v, err := img.Volume(t)
		if err != nil {
			return nil, err
		}
		out[t] = v
	}
	return out, nil
}
