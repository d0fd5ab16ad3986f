package nifti

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// DefaultMaxBytes is the default bound on the decompressed size of a file
// (header, extensions and voxel data): 2 GiB, beyond any single MRI volume.
const DefaultMaxBytes int64 = 2 << 30

// ReadOptions tunes the readers. The zero value (or a nil pointer) is ready
// to use.
type ReadOptions struct {
	// MaxBytes bounds the number of bytes the header may declare (header,
	// extensions and voxel data, decompressed). Larger files fail with
	// ErrTooLarge before anything is allocated; this also bounds gzip
	// decompression (no zip bombs). 0 means DefaultMaxBytes.
	MaxBytes int64
}

func (o *ReadOptions) maxBytes() int64 {
	if o == nil || o.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return o.MaxBytes
}

// chunk is the largest buffer allocated ahead of the bytes actually read,
// so that a header declaring gigabytes cannot force a big allocation
// before the data is there.
const chunk = 64 << 20

// readN reads exactly n bytes, growing the buffer as data arrives.
func readN(r io.Reader, n int64, what string) ([]byte, error) {
	buf := make([]byte, 0, min(n, chunk))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*int64(cap(buf))))
			copy(grown, buf)
			buf = grown
		}
		m, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%w: %s has %d of %d bytes", ErrTruncated, what, len(buf), n)
			}
			return nil, fmt.Errorf("nifti: reading %s: %w", what, err)
		}
	}
	return buf, nil
}

// decompress returns a reader of r's content, inflating it when it starts
// with the gzip magic bytes 0x1f 0x8b (whatever the file is called).
func decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(2)
	if err != nil && len(magic) < 2 {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %d bytes, want a NIfTI header", ErrTruncated, len(magic))
		}
		return nil, fmt.Errorf("nifti: %w", err)
	}
	if magic[0] != 0x1f || magic[1] != 0x8b {
		return br, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("%w: bad gzip stream: %v", ErrNotNIfTI, err)
	}
	return zr, nil
}

// readHeader reads and validates a NIfTI-1 or NIfTI-2 header from r (no
// decompression) and checks that its declared size fits maxBytes.
func readHeader(r io.Reader, maxBytes int64) (*Header, error) {
	b := make([]byte, SizeofHdr2)
	if _, err := io.ReadFull(r, b[:SizeofHdr1]); err != nil {
		return nil, truncated(err, "header")
	}
	ver, _, err := detectVersion(b)
	if err != nil {
		return nil, err
	}
	if ver == 2 {
		if _, err := io.ReadFull(r, b[SizeofHdr1:]); err != nil {
			return nil, truncated(err, "NIfTI-2 header")
		}
	}
	h, err := DecodeHeader(b)
	if err != nil {
		return nil, err
	}
	n, _ := h.DataBytes() // validated by DecodeHeader
	if n > maxBytes || h.VoxOffset > maxBytes-n {
		return nil, fmt.Errorf("%w: header declares %d bytes of voxels at offset %d, limit %d (ReadOptions.MaxBytes)", ErrTooLarge, n, h.VoxOffset, maxBytes)
	}
	if int64(int(n)) != n {
		return nil, fmt.Errorf("%w: %d bytes of voxels do not fit an int on this platform", ErrTooLarge, n)
	}
	return h, nil
}

func truncated(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: file ends inside the %s", ErrTruncated, what)
	}
	return fmt.Errorf("nifti: reading %s: %w", what, err)
}

// ReadHeader reads the header at the start of r (gzip-compressed or not),
// without the extensions or voxel data, and validates it.
func ReadHeader(r io.Reader) (*Header, error) {
	dr, err := decompress(r)
	if err != nil {
		return nil, err
	}
	return readHeader(dr, 1<<62)
}

// Read reads a whole single-file NIfTI-1 or NIfTI-2 image (.nii, gzipped
// or not: detected from the magic bytes) from r. Voxel data are returned
// in little-endian order whatever the file's byte order (Header.ByteOrder
// records the latter). A header with the pair magic ("ni1"/"ni2") is an
// error: use ReadPair.
func Read(r io.Reader, opts *ReadOptions) (*Image, error) {
	dr, err := decompress(r)
	if err != nil {
		return nil, err
	}
	h, err := readHeader(dr, opts.maxBytes())
	if err != nil {
		return nil, err
	}
	if h.Pair {
		return nil, fmt.Errorf("%w: magic says the voxels are in a separate .img file; read it with ReadPair or ReadFile on the .hdr", ErrInvalidHeader)
	}
	start := h.headerSize() + 4
	if h.VoxOffset < start {
		return nil, fmt.Errorf("%w: vox_offset %d, want >= %d for a single-file NIfTI-%d", ErrInvalidHeader, h.VoxOffset, start, h.Version)
	}
	ext, err := readN(dr, h.VoxOffset-h.headerSize(), "extension area")
	if err != nil {
		return nil, err
	}
	img := &Image{Header: *h}
	if ext[0] != 0 {
		if img.Extensions, err = parseExtensions(ext[4:], h.byteOrder()); err != nil {
			return nil, err
		}
	}
	return img, img.readData(dr)
}

// ReadPair reads an image stored as a header stream (.hdr, with optional
// extensions up to its end) and a voxel stream (.img); either may be
// gzip-compressed.
func ReadPair(hdr, data io.Reader, opts *ReadOptions) (*Image, error) {
	dh, err := decompress(hdr)
	if err != nil {
		return nil, err
	}
	h, err := readHeader(dh, opts.maxBytes())
	if err != nil {
		return nil, err
	}
	img := &Image{Header: *h}
	ext, err := io.ReadAll(io.LimitReader(dh, opts.maxBytes()))
	if err != nil {
		return nil, fmt.Errorf("nifti: reading extensions: %w", err)
	}
	if len(ext) >= 4 && ext[0] != 0 {
		if img.Extensions, err = parseExtensions(ext[4:], h.byteOrder()); err != nil {
			return nil, err
		}
	}
	dd, err := decompress(data)
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, dd, h.VoxOffset); err != nil {
		return nil, truncated(err, "image file before vox_offset")
	}
	return img, img.readData(dd)
}

// readData reads the voxels and converts them to little endian.
func (img *Image) readData(r io.Reader) error {
	n, _ := img.Header.DataBytes()
	data, err := readN(r, n, "voxel data")
	if err != nil {
		return err
	}
	if img.Header.byteOrder() == binary.BigEndian {
		swapBytes(data, img.Header.Datatype.swapSize())
	}
	img.Data = data
	return nil
}

// swapBytes reverses the byte order of each size-byte value in b.
func swapBytes(b []byte, size int) {
	switch size {
	case 2:
		for i := 0; i+1 < len(b); i += 2 {
			b[i], b[i+1] = b[i+1], b[i]
		}
	case 4:
		for i := 0; i+3 < len(b); i += 4 {
			binary.LittleEndian.PutUint32(b[i:], binary.BigEndian.Uint32(b[i:]))
		}
	case 8:
		for i := 0; i+7 < len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.BigEndian.Uint64(b[i:]))
		}
	}
}
