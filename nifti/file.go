package nifti

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/metasurv/metasurv/internal/atomicfile"
	"github.com/metasurv/metasurv/volume"
)

// pairNames returns the header and image file names of a .hdr/.img pair
// named by either file, and whether path names a pair at all.
func pairNames(path string) (hdr, img string, ok bool) {
	base, gz := strings.CutSuffix(path, ".gz")
	suffix := ""
	if gz {
		suffix = ".gz"
	}
	ext := strings.ToLower(filepath.Ext(base))
	if ext != ".hdr" && ext != ".img" {
		return "", "", false
	}
	stem := base[:len(base)-len(ext)]
	h, i := ".hdr", ".img"
	if filepath.Ext(base) != ext { // keep the case of the given name (.HDR/.IMG)
		h, i = ".HDR", ".IMG"
	}
	return stem + h + suffix, stem + i + suffix, true
}

// LoadImage reads a NIfTI-1 or NIfTI-2 image from path: a single file
// (.nii, .nii.gz, any name) or a pair named by its .hdr or .img file
// (optionally .gz). Compression is detected from the content.
func LoadImage(path string, opts *ReadOptions) (*Image, error) {
	return loadImage(path, opts, nil)
}

// loadImage is LoadImage, reusing the buffers of s (see read).
func loadImage(path string, opts *ReadOptions, s *scratch) (*Image, error) {
	if hdrPath, imgPath, ok := pairNames(path); ok {
		return readPairFiles(hdrPath, imgPath, opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nifti: %w", err)
	}
	defer f.Close()
	img, err := read(f, opts, s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

func readPairFiles(hdrPath, imgPath string, opts *ReadOptions) (*Image, error) {
	hf, err := os.Open(hdrPath)
	if err != nil {
		return nil, fmt.Errorf("nifti: %w", err)
	}
	defer hf.Close()
	df, err := os.Open(imgPath)
	if err != nil {
		return nil, fmt.Errorf("nifti: %w", err)
	}
	defer df.Close()
	img, err := ReadPair(hf, df, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", hdrPath, err)
	}
	return img, nil
}

// SaveImage writes img to path: a pair when the name ends in .hdr or .img
// (both files are written), a single file otherwise; gzipped when the name
// ends in .gz. The header magic is set accordingly.
//
// The image is validated completely (header fields, data size, finite
// geometry) before any file is touched, and every file is written to a
// temporary file in its directory, fsynced and renamed over the target
// (internal/atomicfile): an error leaves existing files — an older
// a.nii, the .img of a pair, a directory of the same name — exactly as
// they were, and never leaves a partial file.
func SaveImage(path string, img *Image, opts *WriteOptions) error {
	if img == nil {
		return fmt.Errorf("%w: nil image", ErrInvalidHeader)
	}
	o := WriteOptions{Compress: strings.HasSuffix(path, ".gz")}
	if opts != nil {
		o.Level = opts.Level
	}
	hdrPath, imgPath, pair := pairNames(path)
	if _, _, err := img.encodeHeader(pair); err != nil {
		return err
	}
	if pair {
		return atomicfile.WriteGroup([]string{hdrPath, imgPath}, func(ws []io.Writer) error {
			return WritePair(ws[0], ws[1], img, &o)
		})
	}
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, img, &o) })
}

// Load reads the 3-D image at path as a float32 volume in world RAS+ mm:
// data scaled by scl_slope/scl_inter and the affine chosen as nibabel does
// (sform, else qform, else the base affine). Images with more than one
// volume (4-D time series, vector fields) fail with ErrNot3D: use
// LoadImage and Image.Volume to pick one. opts may be nil (defaults).
func Load(path string, opts *ReadOptions) (*volume.Volume, error) {
	// The file and decompressed bytes are dead once the volume is
	// converted: recycle them for the next Load.
	s, _ := scratchPool.Get().(*scratch)
	if s == nil {
		s = &scratch{}
	}
	defer scratchPool.Put(s)
	s.voxels, s.pending = make(chan []float32, 1), false // buffered: the allocator never blocks
	var o ReadOptions
	if opts != nil {
		o = *opts
	}
	o.float32Out = true // the budget covers the float32 voxels too
	img, err := loadImage(path, &o, s)
	data, done := s.take(err)
	if err != nil {
		return nil, err
	}
	if img.NumFrames() != 1 {
		return nil, fmt.Errorf("%s: %w: shape %v has %d volumes; use LoadImage and Image.Volume(t)", path, ErrNot3D, img.Header.Shape(), img.NumFrames())
	}
	v, err := img.volumeInto(0, data, done)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// Save writes v as a NIfTI-1 float32 image (.nii, or .nii.gz when path
// ends in .gz; a .hdr/.img pair for those names). The affine is stored
// both as sform and as qform, with code 2 (aligned anatomy) for both, and
// the units as millimetres.
func Save(path string, v *volume.Volume) error {
	img, err := FromVolume(v)
	if err != nil {
		return err
	}
	return SaveImage(path, img, nil)
}

// FromVolume returns a NIfTI-1 float32 image holding v, with sform = qform
// = v.Affine (codes XformAlignedAnat), voxel sizes from the affine and
// units millimetres. The qform is the closest rigid transform when the
// affine has shears (see SetQform).
func FromVolume(v *volume.Volume) (*Image, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: nil volume", ErrInvalidHeader)
	}
	if !v.Affine.IsFinite() {
		return nil, fmt.Errorf("%w: affine %v is not finite", ErrInvalidHeader, v.Affine)
	}
	n, err := volume.NumVoxels(v.Dims)
	if err != nil {
		return nil, err
	}
	if len(v.Data) != n {
		return nil, fmt.Errorf("%w: volume has %d values for dims %v", ErrInvalidHeader, len(v.Data), v.Dims)
	}
	img := &Image{Header: Header{
		Version:   1,
		Dim:       [8]int64{3, int64(v.Dims[0]), int64(v.Dims[1]), int64(v.Dims[2]), 1, 1, 1, 1},
		Pixdim:    [8]float64{1, 1, 1, 1, 1, 1, 1, 1},
		Datatype:  DTFloat32,
		Bitpix:    32,
		SclSlope:  1,
		XYZTUnits: UnitsMM,
	}}
	img.Header.SetSform(v.Affine, XformAlignedAnat)
	if err := img.Header.SetQform(v.Affine, XformAlignedAnat); err != nil {
		return nil, err
	}
	img.Data = make([]byte, 4*n)
	putFloat32s(img.Data, v.Data)
	return img, nil
}
