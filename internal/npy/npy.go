package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/metasurv/metasurv/internal/chunked"
)

const (
	// maxDims is numpy 2's NPY_MAXDIMS; more dimensions are rejected.
	maxDims = 64
	// maxDim bounds a single dimension before any product is formed.
	maxDim = 1 << 48
	// maxHeaderLen bounds the header dictionary (numpy itself refuses
	// headers above 10 000 bytes unless told otherwise).
	maxHeaderLen = 1 << 20
	// DefaultMaxBytes is the data size limit used when Options.MaxBytes is 0.
	DefaultMaxBytes = 8 << 30
)

var magic = []byte("\x93NUMPY")

// Array is one decoded .npy array.
//
// Read always returns the data in C (row-major) order and little-endian
// byte order, whatever the file used: Fortran-ordered files are transposed
// and big-endian files byte-swapped on read. DType is therefore always
// "<" + kind + size for multi-byte types and "|" + kind + size for single
// bytes, and Fortran only reports how the file was laid out.
type Array struct {
	// Shape is the array shape; empty for a 0-d (scalar) array.
	Shape []int
	// DType is the numpy type descriptor of Data: "<f4", "<f8", "|i1",
	// "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8" or "|b1".
	DType string
	// Fortran is true when the file stored the array in Fortran
	// (column-major) order; Data has been converted to C order.
	Fortran bool
	// Data holds the elements, C order, little-endian.
	Data []byte
}

// Options limit what Read accepts. The zero value is usable.
type Options struct {
	// MaxBytes bounds the size of the array data; 0 means DefaultMaxBytes.
	MaxBytes int64
}

// Len returns the number of elements (1 for a 0-d array).
func (a *Array) Len() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// Read decodes one .npy array from r with default Options.
func Read(r io.Reader) (*Array, error) { return ReadWith(r, Options{}) }

// ReadFile reads the .npy file at path with default Options.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	a, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// ReadWith decodes one .npy array (format versions 1.0, 2.0 and 3.0) from r.
// Malformed, truncated or oversized input gives an error, never a panic.
func ReadWith(r io.Reader, opts Options) (*Array, error) {
	maxBytes := opts.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	h, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	kind, size, bigEndian, err := parseDType(h.descr)
	if err != nil {
		return nil, err
	}
	n, err := checkedNumel(h.shape)
	if err != nil {
		return nil, err
	}
	if n > math.MaxInt64/int64(size) || n*int64(size) > maxBytes {
		return nil, fmt.Errorf("npy: array of shape %v and type %s exceeds the %d-byte limit", h.shape, h.descr, maxBytes)
	}
	data, err := readData(r, n*int64(size))
	if err != nil {
		return nil, err
	}
	if bigEndian {
		swapBytes(data, size)
	}
	if h.fortran {
		data = fortranToC(data, h.shape, size)
	}
	return &Array{Shape: h.shape, DType: normDescr(kind, size), Fortran: h.fortran, Data: data}, nil
}

func readHeader(r io.Reader) (header, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:8]); err != nil {
		return header{}, fmt.Errorf("npy: reading magic: %w", noEOF(err))
	}
	if !bytes.Equal(pre[:6], magic) {
		return header{}, fmt.Errorf("npy: bad magic %q (want \\x93NUMPY)", pre[:6])
	}
	var hlen int
	switch major := pre[6]; major {
	case 1:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return header{}, fmt.Errorf("npy: reading header length: %w", noEOF(err))
		}
		hlen = int(binary.LittleEndian.Uint16(pre[8:10]))
	case 2, 3:
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return header{}, fmt.Errorf("npy: reading header length: %w", noEOF(err))
		}
		n := binary.LittleEndian.Uint32(l[:])
		if n > maxHeaderLen {
			return header{}, fmt.Errorf("npy: header of %d bytes exceeds the %d-byte limit", n, maxHeaderLen)
		}
		hlen = int(n)
	default:
		return header{}, fmt.Errorf("npy: unsupported format version %d.%d (want 1.0, 2.0 or 3.0)", pre[6], pre[7])
	}
	buf := make([]byte, hlen)
	if _, err := io.ReadFull(r, buf); err != nil {
		return header{}, fmt.Errorf("npy: reading %d-byte header: %w", hlen, noEOF(err))
	}
	return parseHeader(string(buf))
}

// noEOF turns a bare io.EOF into io.ErrUnexpectedEOF: any EOF here means a
// truncated file.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseDType splits a descriptor like "<f4" and checks it is supported.
func parseDType(d string) (kind byte, size int, bigEndian bool, err error) {
	if len(d) < 3 {
		return 0, 0, false, fmt.Errorf("npy: unsupported dtype %q", d)
	}
	order, kind := d[0], d[1]
	size, err = strconv.Atoi(d[2:])
	if err != nil {
		return 0, 0, false, fmt.Errorf("npy: unsupported dtype %q", d)
	}
	ok := false
	switch kind {
	case 'f':
		ok = size == 4 || size == 8
	case 'i', 'u':
		ok = size == 1 || size == 2 || size == 4 || size == 8
	case 'b':
		ok = size == 1
	}
	if !ok || (order != '<' && order != '>' && order != '|' && order != '=') {
		return 0, 0, false, fmt.Errorf("npy: unsupported dtype %q (want f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1 with byte order < > | =)", d)
	}
	return kind, size, order == '>' && size > 1, nil
}

func normDescr(kind byte, size int) string {
	order := "<"
	if size == 1 {
		order = "|"
	}
	return order + string(kind) + strconv.Itoa(size)
}

// checkedNumel returns the product of shape, rejecting overflow.
func checkedNumel(shape []int) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 || d > maxDim {
			return 0, fmt.Errorf("npy: dimension %d out of range in shape %v", d, shape)
		}
		if d != 0 && n > math.MaxInt64/int64(d) {
			return 0, fmt.Errorf("npy: shape %v overflows", shape)
		}
		n *= int64(d)
	}
	if n > math.MaxInt {
		return 0, fmt.Errorf("npy: shape %v too large for this platform", shape)
	}
	return n, nil
}

// readData reads exactly n bytes, growing the buffer as data arrives.
func readData(r io.Reader, n int64) ([]byte, error) {
	b, err := chunked.ReadFull(r, n)
	if err != nil {
		return nil, fmt.Errorf("npy: data %w", err)
	}
	return b, nil
}

func swapBytes(b []byte, size int) {
	for i := 0; i+size <= len(b); i += size {
		e := b[i : i+size]
		for l, r := 0, size-1; l < r; l, r = l+1, r-1 {
			e[l], e[r] = e[r], e[l]
		}
	}
}

// fortranToC reorders column-major data into row-major order.
func fortranToC(src []byte, shape []int, size int) []byte {
	k := len(shape)
	if k <= 1 || len(src) == 0 {
		return src
	}
	fstride := make([]int, k) // element strides in the Fortran layout
	fstride[0] = 1
	for j := 1; j < k; j++ {
		fstride[j] = fstride[j-1] * shape[j-1]
	}
	dst := make([]byte, len(src))
	idx := make([]int, k-1)
	inner, istride := shape[k-1], fstride[k-1]*size
	off, o := 0, 0 // Fortran byte offset of the current row start; output offset
	for {
		s := off
		for i := 0; i < inner; i++ {
			copy(dst[o:o+size], src[s:s+size])
			o += size
			s += istride
		}
		j := k - 2
		for ; j >= 0; j-- {
			idx[j]++
			off += fstride[j] * size
			if idx[j] < shape[j] {
				break
			}
			off -= idx[j] * fstride[j] * size
			idx[j] = 0
		}
		if j < 0 {
			return dst
		}
	}
}
