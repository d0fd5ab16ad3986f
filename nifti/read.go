package nifti

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/metasurv/metasurv/internal/inflate"
)

// DefaultMaxBytes is the default memory budget of one read: 2 GiB, far
// beyond any single MRI volume.
const DefaultMaxBytes int64 = 2 << 30

// ReadOptions tunes the readers. The zero value (or a nil pointer) is ready
// to use.
type ReadOptions struct {
	// MaxBytes is the memory budget of one read: the compressed input held
	// in memory (gzip), plus the decoded header, extensions and voxel data
	// the header declares, plus, for Load, the float32 voxels it converts
	// to. A file whose header asks for more fails with ErrTooLarge before
	// the large buffers are allocated; the budget also bounds gzip
	// decompression (no zip bombs). 0 means DefaultMaxBytes. Conversions
	// the caller asks for later (Image.Float32, Image.Volumes) are not
	// counted.
	MaxBytes int64

	// float32Out is set by Load: the read must also fit one volume of
	// float32 voxels in the budget.
	float32Out bool
}

func (o *ReadOptions) maxBytes() int64 {
	if o == nil || o.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return o.MaxBytes
}

// budget checks, once the header h is known and before the voxel buffers
// are allocated, that the read fits MaxBytes: input bytes of compressed
// input held in memory, the decoded header, extensions and voxels, and the
// float32 voxels of one volume when Load converts them.
func (o *ReadOptions) budget(h *Header, input int64) error {
	n, err := h.DataBytes()
	if err != nil {
		return err
	}
	limit := o.maxBytes()
	var conv int64
	if o != nil && o.float32Out {
		nvox, err := h.NumVoxels()
		if err != nil {
			return err
		}
		frames := int64(1)
		for i := 4; i <= h.NDim(); i++ {
			frames *= max(h.Dim[i], 1)
		}
		conv = 4 * (nvox / max(frames, 1))
	}
	// Each term is at most 2^62 after DecodeHeader's checks; compare
	// without overflow.
	if input > limit || h.VoxOffset > limit-input || n > limit-input-h.VoxOffset || conv > limit-input-h.VoxOffset-n {
		return fmt.Errorf("%w: reading needs %d bytes of input in memory + %d decoded + %d of float32 voxels, budget %d (ReadOptions.MaxBytes)",
			ErrTooLarge, input, h.VoxOffset+n, conv, limit)
	}
	return nil
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

// sizeOf returns the size of r when it is a regular file (such as an
// *os.File), else 0: a hint to allocate once.
func sizeOf(r io.Reader) int64 {
	if st, ok := r.(interface{ Stat() (os.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	}
	return 0
}

// readAll reads r to its end, failing with ErrTooLarge beyond limit bytes;
// sizeHint is the expected size. It reads into reuse when that is large
// enough.
func readAll(r io.Reader, limit, sizeHint int64, reuse []byte) ([]byte, error) {
	size := max(sizeHint, 511) + 1
	if size > limit+1 {
		return nil, fmt.Errorf("%w: %d bytes of input, limit %d (ReadOptions.MaxBytes)", ErrTooLarge, size-1, limit)
	}
	buf := reuse[:0]
	if int64(cap(buf)) < size {
		buf = make([]byte, 0, size)
	}
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return nil, fmt.Errorf("%w: more than %d bytes of input (ReadOptions.MaxBytes)", ErrTooLarge, limit)
			}
			buf = append(buf, 0)[:len(buf)] // grow
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("nifti: %w", err)
		}
	}
	if int64(len(buf)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes of input (ReadOptions.MaxBytes)", ErrTooLarge, limit)
	}
	return buf, nil
}

// peekGzip wraps r in a buffered reader and reports whether the stream
// starts with the gzip magic bytes 0x1f 0x8b (whatever the file is called).
func peekGzip(r io.Reader) (*bufio.Reader, bool, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(2)
	if len(magic) < 2 {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, false, fmt.Errorf("%w: %d bytes, want a NIfTI header", ErrTruncated, len(magic))
		}
		return nil, false, fmt.Errorf("nifti: %w", err)
	}
	return br, inflate.IsGzip(magic), nil
}

// gzipReader returns a streaming decompressor of the gzip data in b.
func gzipReader(b []byte) (io.Reader, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCompressed, err)
	}
	return zr, nil
}

// inflateExpect decompresses the gzip data in b, of which the first need
// bytes are wanted, into the memory of buf if large enough. The fast
// in-memory decoder is tried first, bounded by
// need; a stream with more data than needed, or cut after the needed
// bytes, is then read with a streaming decoder up to need bytes, as
// nibabel does.
func inflateExpect(b []byte, need int64, what string, buf []byte, prefix func([]byte)) ([]byte, error) {
	// The trailer's ISIZE (size mod 2^32 of the last member) sizes the
	// buffer, so that a header declaring more than the stream holds cannot
	// force a large allocation.
	if need > math.MaxInt-64 {
		return nil, fmt.Errorf("%w: %d bytes do not fit memory on this platform", ErrTooLarge, need)
	}
	hint := need
	if len(b) >= 4 {
		hint = min(need, int64(binary.LittleEndian.Uint32(b[len(b)-4:])))
	}
	raw, err := gunzip(b, int(need), int(hint), buf, prefix)
	if err == nil && int64(len(raw)) < need {
		return nil, fmt.Errorf("%w: %s has %d of %d bytes", ErrTruncated, what, len(raw), need)
	}
	if err == nil || !(errors.Is(err, ErrTooLarge) || errors.Is(err, ErrTruncated)) {
		return raw, err
	}
	zr, err := gzipReader(b)
	if err != nil {
		return nil, err
	}
	return readN(zr, need, what)
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
	br, gz, err := peekGzip(r)
	if err != nil {
		return nil, err
	}
	var dr io.Reader = br
	if gz {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCompressed, err)
		}
		dr = zr
	}
	return readHeader(dr, math.MaxInt64)
}

// Read reads a whole single-file NIfTI-1 or NIfTI-2 image (.nii, gzipped
// or not: detected from the magic bytes) from r. Voxel data are returned
// in little-endian order whatever the file's byte order (Header.ByteOrder
// records the latter). A header with the pair magic ("ni1"/"ni2") is an
// error: use ReadPair.
func Read(r io.Reader, opts *ReadOptions) (*Image, error) {
	return read(r, opts, nil)
}

// scratch holds the two large buffers of reading a gzipped image, the
// compressed file and the decompressed bytes, so that Load, which keeps
// neither, can reuse them from one call to the next (sync.Pool) instead of
// allocating and zeroing them each time.
type scratch struct {
	in, out []byte
	// voxels, when not nil, asks read to allocate the float32 voxels of a
	// gzipped single-volume image while it decompresses (Go zeroes a new
	// slice on one core; this overlaps it with the decoding) and receives
	// them, or nil; pending says that read started that allocation.
	voxels  chan []float32
	pending bool
	// data is the buffer received from voxels (received: already), of
	// which the first done voxels were converted early by convertPrefix.
	data     []float32
	received bool
	done     int
}

// convertPrefix receives the preallocated voxels and converts those whose
// bytes are in prefix (the first decompressed bytes of the file with
// header h), while the rest is still being decompressed. Big-endian and
// non-scalar images are left to the usual path.
func (s *scratch) convertPrefix(h *Header, prefix []byte) {
	s.data, s.received = <-s.voxels, true
	if s.data == nil || h.byteOrder() == binary.BigEndian || !h.Datatype.Scalar() {
		return
	}
	sz := int64(h.Datatype.Size())
	k := min((int64(len(prefix))-h.VoxOffset)/sz, int64(len(s.data)))
	if k <= 0 {
		return
	}
	slope, inter := h.SlopeInter()
	convert(s.data[:k], prefix[h.VoxOffset:h.VoxOffset+k*sz], h.Datatype, slope, inter)
	s.done = int(k)
}

// take returns the voxel buffer of the last read (waiting for its
// allocation) and how many voxels are already converted, and resets s.
func (s *scratch) take(readErr error) (data []float32, done int) {
	if readErr == nil && s.pending && !s.received {
		s.data = <-s.voxels
	}
	data, done = s.data, s.done
	s.voxels, s.pending, s.data, s.received, s.done = nil, false, nil, false, 0
	return data, done
}

var scratchPool sync.Pool

// read is Read, reusing the buffers of s (nil: none) for a gzipped image
// and keeping in s the larger of each old and new buffer. The image then
// shares memory with s.
func read(r io.Reader, opts *ReadOptions, s *scratch) (*Image, error) {
	var in, out []byte
	if s != nil {
		in, out = s.in, s.out
	}
	size := sizeOf(r)
	br, gz, err := peekGzip(r)
	if err != nil {
		return nil, err
	}
	if !gz {
		h, err := readHeader(br, opts.maxBytes())
		if err != nil {
			return nil, err
		}
		if err := h.checkSingle(); err != nil {
			return nil, err
		}
		if err := opts.budget(h, 0); err != nil {
			return nil, err
		}
		ext, err := readN(br, h.VoxOffset-h.headerSize(), "extension area")
		if err != nil {
			return nil, err
		}
		img, err := newImage(h, ext)
		if err != nil {
			return nil, err
		}
		n, _ := h.DataBytes()
		data, err := readN(br, n, "voxel data")
		if err != nil {
			return nil, err
		}
		return img, img.setData(data)
	}
	content, err := readAll(br, opts.maxBytes(), size, in)
	if err != nil {
		return nil, err
	}
	if s != nil && cap(content) >= cap(in) {
		s.in = content
	}
	zr, err := gzipReader(content)
	if err != nil {
		return nil, err
	}
	h, err := readHeader(zr, opts.maxBytes())
	if err != nil {
		return nil, err
	}
	if err := h.checkSingle(); err != nil {
		return nil, err
	}
	if err := opts.budget(h, int64(len(content))); err != nil {
		return nil, err
	}
	n, _ := h.DataBytes()
	var prefix func([]byte)
	if s != nil && s.voxels != nil {
		s.pending = true
		go preallocate(s.voxels, h, n, content)
		prefix = func(b []byte) { s.convertPrefix(h, b) }
	}
	raw, err := inflateExpect(content, h.VoxOffset+n, "voxel data", out, prefix)
	if err != nil {
		return nil, err
	}
	if s != nil && cap(raw) > cap(out) {
		s.out = raw // else raw is out with its capacity cut, or smaller
	}
	img, err := newImage(h, raw[h.headerSize():h.VoxOffset])
	if err != nil {
		return nil, err
	}
	return img, img.setData(raw[h.VoxOffset : h.VoxOffset+n])
}

// maxPrealloc bounds the voxel count preallocate allocates before the data
// are decoded (1 GiB of float32).
const maxPrealloc = 1 << 28

// preallocate sends a float32 buffer for the voxels of the single-volume
// image of header h (n data bytes) to c, or nil when the image has several
// volumes, is very large, or holds more bytes than the gzip trailer of
// compressed says the stream has (a corrupt header must not make it
// allocate more than the decoder could fill).
func preallocate(c chan<- []float32, h *Header, n int64, compressed []byte) {
	nvox, err := h.NumVoxels()
	ok := err == nil && nvox <= maxPrealloc && n == nvox*int64(h.Datatype.Size()) &&
		len(compressed) >= 4 && h.VoxOffset+n <= int64(binary.LittleEndian.Uint32(compressed[len(compressed)-4:]))
	if !ok {
		c <- nil
		return
	}
	c <- make([]float32, nvox)
}

// checkSingle checks what a single-file (.nii) header must satisfy.
func (h *Header) checkSingle() error {
	if h.Pair {
		return fmt.Errorf("%w: magic says the voxels are in a separate .img file; read it with ReadPair or LoadImage on the .hdr", ErrInvalidHeader)
	}
	if start := h.headerSize() + 4; h.VoxOffset < start {
		return fmt.Errorf("%w: vox_offset %d, want >= %d for a single-file NIfTI-%d", ErrInvalidHeader, h.VoxOffset, start, h.Version)
	}
	return nil
}

// newImage returns an image with header h and the extensions found in ext,
// the bytes between the header and the voxels (extender first).
func newImage(h *Header, ext []byte) (*Image, error) {
	img := &Image{Header: *h}
	if len(ext) >= 4 && ext[0] != 0 {
		var err error
		if img.Extensions, err = parseExtensions(ext[4:], h.byteOrder()); err != nil {
			return nil, err
		}
	}
	return img, nil
}

// ReadPair reads an image stored as a header stream (.hdr, with optional
// extensions up to its end) and a voxel stream (.img); either may be
// gzip-compressed.
func ReadPair(hdr, data io.Reader, opts *ReadOptions) (*Image, error) {
	limit := opts.maxBytes()
	hb, err := readAll(hdr, min(limit, maxPairHeader), sizeOf(hdr), nil)
	if err != nil {
		return nil, err
	}
	if inflate.IsGzip(hb) {
		if hb, err = gunzip(hb, int(min(limit, maxPairHeader)), 0, nil, nil); err != nil {
			return nil, err
		}
	}
	h, err := readHeader(bytes.NewReader(hb), limit)
	if err != nil {
		return nil, err
	}
	img, err := newImage(h, hb[h.headerSize():])
	if err != nil {
		return nil, err
	}
	size := sizeOf(data)
	br, gz, err := peekGzip(data)
	if err != nil {
		return nil, err
	}
	n, _ := h.DataBytes()
	if gz {
		content, err := readAll(br, limit, size, nil)
		if err != nil {
			return nil, err
		}
		if err := opts.budget(h, int64(len(hb))+int64(len(content))); err != nil {
			return nil, err
		}
		raw, err := inflateExpect(content, h.VoxOffset+n, "image file", nil, nil)
		if err != nil {
			return nil, err
		}
		return img, img.setData(raw[h.VoxOffset : h.VoxOffset+n])
	}
	if err := opts.budget(h, int64(len(hb))); err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, br, h.VoxOffset); err != nil {
		return nil, truncated(err, "image file before vox_offset")
	}
	raw, err := readN(br, n, "voxel data")
	if err != nil {
		return nil, err
	}
	return img, img.setData(raw)
}

// maxPairHeader bounds the size of a .hdr file with its extensions.
const maxPairHeader = 64 << 20

// setData stores the voxels, converting them to little endian.
func (img *Image) setData(data []byte) error {
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

// gunzip is inflate.Gunzip with its errors wrapped in this package's
// sentinels as well (ErrTooLarge, ErrTruncated, ErrCompressed).
func gunzip(in []byte, limit, sizeHint int, buf []byte, prefix func([]byte)) ([]byte, error) {
	out, err := inflate.Gunzip(in, limit, sizeHint, buf, prefix)
	if err == nil {
		return out, nil
	}
	for _, m := range [...]struct{ from, to error }{
		{inflate.ErrTooLarge, ErrTooLarge},
		{inflate.ErrTruncated, ErrTruncated},
		{inflate.ErrCorrupt, ErrCompressed},
	} {
		if errors.Is(err, m.from) {
			return nil, fmt.Errorf("%w (%w)", m.to, err)
		}
	}
	return nil, err
}
