package npy

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/metasurv/metasurv/internal/atomicfile"
)

// headerAlign is numpy's ARRAY_ALIGN: the data starts at a multiple of 64.
const headerAlign = 64

// Write encodes data with the given shape as a C-order little-endian .npy
// file (format 1.0, or 2.0 if the header needs it). data must be one of
// []float32, []float64, []int64, []int32, []uint8 or []bool, with as many
// elements as the shape holds; an empty shape writes a 0-d array.
func Write(w io.Writer, shape []int, data any) error {
	descr, err := checkWrite(shape, data)
	if err != nil {
		return err
	}
	return write(w, descr, shape, data)
}

// checkWrite validates what Write and WriteFile are given, before anything
// is written, and returns the dtype descriptor.
func checkWrite(shape []int, data any) (string, error) {
	descr, n, err := describe(data)
	if err != nil {
		return "", err
	}
	want, err := checkedNumel(shape)
	if err != nil {
		return "", err
	}
	if want != int64(n) {
		return "", fmt.Errorf("npy: %d values for shape %v (want %d)", n, shape, want)
	}
	return descr, nil
}

func write(w io.Writer, descr string, shape []int, data any) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.Write(encodeHeader(descr, false, shape)); err != nil {
		return fmt.Errorf("npy: writing header: %w", err)
	}
	if err := writeData(bw, data); err != nil {
		return fmt.Errorf("npy: writing data: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("npy: writing data: %w", err)
	}
	return nil
}

// WriteFile writes data with the given shape to path (see Write). The
// arguments are validated before the file is touched, and the file is
// replaced atomically (temporary file in the same directory, fsync,
// rename): a failed call leaves an existing file as it was.
func WriteFile(path string, shape []int, data any) error {
	descr, err := checkWrite(shape, data)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return write(w, descr, shape, data) }); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}

// WriteTo writes the array as a .npy file (C order), so an Array read from
// any file can be saved again unchanged in content.
func (a *Array) WriteTo(w io.Writer) (int64, error) {
	_, size, big, err := parseDType(a.DType)
	if err != nil {
		return 0, err
	}
	n, err := checkedNumel(a.Shape)
	if err != nil {
		return 0, err
	}
	if big || int64(len(a.Data)) != n*int64(size) {
		return 0, a.sizeError()
	}
	h := encodeHeader(a.DType, false, a.Shape)
	m, err := w.Write(h)
	if err != nil {
		return int64(m), fmt.Errorf("npy: writing header: %w", err)
	}
	k, err := w.Write(a.Data)
	if err != nil {
		err = fmt.Errorf("npy: writing data: %w", err)
	}
	return int64(m + k), err
}

func describe(data any) (descr string, n int, err error) {
	switch v := data.(type) {
	case []float32:
		return "<f4", len(v), nil
	case []float64:
		return "<f8", len(v), nil
	case []int64:
		return "<i8", len(v), nil
	case []int32:
		return "<i4", len(v), nil
	case []uint8:
		return "|u1", len(v), nil
	case []bool:
		return "|b1", len(v), nil
	}
	return "", 0, fmt.Errorf("npy: cannot write %T (want []float32, []float64, []int64, []int32, []uint8 or []bool)", data)
}

// encodeHeader returns magic, version, length and the padded dictionary.
func encodeHeader(descr string, fortran bool, shape []int) []byte {
	dict := formatHeader(descr, fortran, shape)
	pre := 10 // magic(6) + version(2) + uint16 length
	major := byte(1)
	total := pre + len(dict) + 1
	if total+headerAlign > math.MaxUint16 {
		pre, major = 12, 2
		total = pre + len(dict) + 1
	}
	pad := (headerAlign - total%headerAlign) % headerAlign
	hlen := len(dict) + pad + 1
	out := make([]byte, 0, pre+hlen)
	out = append(out, magic...)
	out = append(out, major, 0)
	if major == 1 {
		out = binary.LittleEndian.AppendUint16(out, uint16(hlen))
	} else {
		out = binary.LittleEndian.AppendUint32(out, uint32(hlen))
	}
	out = append(out, dict...)
	out = append(out, strings.Repeat(" ", pad)...)
	return append(out, '\n')
}

// writeData encodes the elements little-endian through a 64 kB buffer.
func writeData(w *bufio.Writer, data any) error {
	switch v := data.(type) {
	case []float32:
		return writeChunks(w, v, 4, func(b []byte, x float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(x)) })
	case []float64:
		return writeChunks(w, v, 8, func(b []byte, x float64) { binary.LittleEndian.PutUint64(b, math.Float64bits(x)) })
	case []int64:
		return writeChunks(w, v, 8, func(b []byte, x int64) { binary.LittleEndian.PutUint64(b, uint64(x)) })
	case []int32:
		return writeChunks(w, v, 4, func(b []byte, x int32) { binary.LittleEndian.PutUint32(b, uint32(x)) })
	case []uint8:
		_, err := w.Write(v)
		return err
	case []bool:
		return writeChunks(w, v, 1, func(b []byte, x bool) {
			b[0] = 0
			if x {
				b[0] = 1
			}
		})
	}
	return fmt.Errorf("npy: cannot write %T", data)
}

func writeChunks[T any](w *bufio.Writer, v []T, size int, put func([]byte, T)) error {
	const chunk = 1 << 16
	buf := make([]byte, chunk)
	per := chunk / size
	for len(v) > 0 {
		n := min(per, len(v))
		for i, x := range v[:n] {
			put(buf[i*size:], x)
		}
		if _, err := w.Write(buf[:n*size]); err != nil {
			return err
		}
		v = v[n:]
	}
	return nil
}
