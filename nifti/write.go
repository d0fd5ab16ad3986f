package nifti

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/klauspost/compress/gzip"
)

// DefaultCompression is the gzip level of the writers: level 1 (fastest),
// as nibabel writes .nii.gz.
const DefaultCompression = 1

// WriteOptions tunes the writers. The zero value (or a nil pointer) is
// ready to use.
type WriteOptions struct {
	// Compress gzips the output of Write/WritePair. SaveImage sets it from
	// the file name (.gz).
	Compress bool
	// Level is the gzip level (1..9); 0 means DefaultCompression.
	Level int
}

func (o *WriteOptions) level() int {
	if o == nil || o.Level == 0 {
		return DefaultCompression
	}
	return o.Level
}

func (o *WriteOptions) compress() bool { return o != nil && o.Compress }

// compressor wraps w in a gzip writer when asked; close flushes it.
func compressor(w io.Writer, opts *WriteOptions) (io.Writer, func() error, error) {
	if !opts.compress() {
		return w, func() error { return nil }, nil
	}
	zw, err := gzip.NewWriterLevel(w, opts.level())
	if err != nil {
		return nil, nil, fmt.Errorf("nifti: gzip level %d: %w", opts.level(), err)
	}
	return zw, zw.Close, nil
}

// Write writes img as a single-file NIfTI (.nii; gzipped if
// opts.Compress) to w, in img.Header.Version and img.Header.ByteOrder.
// vox_offset is set from the extensions; the extensions are written
// byte-exact (each padded to a multiple of 16 bytes).
func Write(w io.Writer, img *Image, opts *WriteOptions) error {
	hdr, ext, err := img.encodeHeader(false)
	if err != nil {
		return err
	}
	cw, closeFn, err := compressor(w, opts)
	if err != nil {
		return err
	}
	if err := writeAll(cw, hdr, ext); err != nil {
		return err
	}
	if err := img.writeData(cw); err != nil {
		return err
	}
	return closeFn()
}

// WritePair writes img as a .hdr stream (header and extensions) and an
// .img stream (voxels), each gzipped if opts.Compress.
func WritePair(hdrW, dataW io.Writer, img *Image, opts *WriteOptions) error {
	hdr, ext, err := img.encodeHeader(true)
	if err != nil {
		return err
	}
	hw, closeH, err := compressor(hdrW, opts)
	if err != nil {
		return err
	}
	if err := writeAll(hw, hdr, ext); err != nil {
		return err
	}
	if err := closeH(); err != nil {
		return err
	}
	dw, closeD, err := compressor(dataW, opts)
	if err != nil {
		return err
	}
	if err := img.writeData(dw); err != nil {
		return err
	}
	return closeD()
}

// encodeHeader returns the header and extension bytes with vox_offset set
// (0 for a pair, as nibabel writes).
func (img *Image) encodeHeader(pair bool) ([]byte, []byte, error) {
	if err := img.checkData(); err != nil {
		return nil, nil, err
	}
	if err := img.Header.checkGeometry(); err != nil {
		return nil, nil, err
	}
	h := img.Header
	h.VoxOffset = 0
	if !pair {
		h.VoxOffset = h.headerSize() + 4 + extensionsSize(img.Extensions)
	}
	hdr, err := h.Encode(pair)
	if err != nil {
		return nil, nil, err
	}
	return hdr, encodeExtensions(img.Extensions, h.byteOrder()), nil
}

func writeAll(w io.Writer, bufs ...[]byte) error {
	for _, b := range bufs {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("nifti: write: %w", err)
		}
	}
	return nil
}

// writeData writes the voxels in the header's byte order, swapping through
// a bounded scratch buffer for big-endian output.
func (img *Image) writeData(w io.Writer) error {
	if img.Header.byteOrder() != binary.BigEndian || img.Header.Datatype.swapSize() == 1 {
		return writeAll(w, img.Data)
	}
	buf := make([]byte, min(len(img.Data), 1<<20))
	for off := 0; off < len(img.Data); off += len(buf) {
		n := copy(buf, img.Data[off:])
		swapBytes(buf[:n], img.Header.Datatype.swapSize())
		if err := writeAll(w, buf[:n]); err != nil {
			return err
		}
	}
	return nil
}

// checkGeometry refuses to write a header whose spatial transform is not
// finite: a NaN or infinite sform row, quaternion, offset or voxel size
// would give every reader a meaningless affine (issue 12: an Inf
// translation was written without complaint).
func (h *Header) checkGeometry() error {
	bad := func(what string, xs ...float64) error {
		for _, x := range xs {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%w: %s %v is not finite", ErrInvalidHeader, what, xs)
			}
		}
		return nil
	}
	if err := bad("pixdim", h.Pixdim[:4]...); err != nil {
		return err
	}
	if err := bad("quatern/qoffset", h.QuaternB, h.QuaternC, h.QuaternD, h.QOffsetX, h.QOffsetY, h.QOffsetZ); err != nil {
		return err
	}
	for r, row := range [3][4]float64{h.SrowX, h.SrowY, h.SrowZ} {
		if err := bad(fmt.Sprintf("srow_%c", "xyz"[r]), row[:]...); err != nil {
			return err
		}
	}
	return nil
}
