package npy

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Float32 returns the elements converted to float32. Float64 data is
// rounded to nearest; integers convert as Go conversions do (exact up to
// 2^24); booleans become 0 or 1.
func (a *Array) Float32() ([]float32, error) {
	out := make([]float32, a.Len())
	if a.DType == "<f4" {
		if len(a.Data) != 4*len(out) {
			return nil, a.sizeError()
		}
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(a.Data[4*i:]))
		}
		return out, nil
	}
	if err := convert(a, out, true); err != nil {
		return nil, err
	}
	return out, nil
}

// Float64 returns the elements converted to float64 (exact for every
// supported type except 64-bit integers beyond 2^53).
func (a *Array) Float64() ([]float64, error) {
	out := make([]float64, a.Len())
	if err := convert(a, out, true); err != nil {
		return nil, err
	}
	return out, nil
}

// Int64 returns integer or boolean elements as int64. Floating-point data
// and uint64 values above math.MaxInt64 give an error rather than a silent
// truncation.
func (a *Array) Int64() ([]int64, error) {
	out := make([]int64, a.Len())
	if err := convert(a, out, false); err != nil {
		return nil, err
	}
	return out, nil
}

func (a *Array) sizeError() error {
	return fmt.Errorf("npy: %d data bytes do not match shape %v of %s", len(a.Data), a.Shape, a.DType)
}

// convert decodes every element of a into out. Floating-point sources are
// accepted only when allowFloat is set.
func convert[T float32 | float64 | int64](a *Array, out []T, allowFloat bool) error {
	kind, size, _, err := parseDType(a.DType)
	if err != nil {
		return err
	}
	if a.DType[0] == '>' && size > 1 {
		return fmt.Errorf("npy: Array data must be little-endian, got %s", a.DType)
	}
	if len(a.Data) != size*len(out) {
		return a.sizeError()
	}
	d := a.Data
	le := binary.LittleEndian
	switch int(kind)<<4 | size {
	case 'f'<<4 | 4, 'f'<<4 | 8:
		if !allowFloat {
			return fmt.Errorf("npy: cannot convert floating-point %s data to integers", a.DType)
		}
		if size == 4 {
			for i := range out {
				out[i] = T(math.Float32frombits(le.Uint32(d[4*i:])))
			}
		} else {
			for i := range out {
				out[i] = T(math.Float64frombits(le.Uint64(d[8*i:])))
			}
		}
	case 'i'<<4 | 1:
		for i := range out {
			out[i] = T(int8(d[i]))
		}
	case 'i'<<4 | 2:
		for i := range out {
			out[i] = T(int16(le.Uint16(d[2*i:])))
		}
	case 'i'<<4 | 4:
		for i := range out {
			out[i] = T(int32(le.Uint32(d[4*i:])))
		}
	case 'i'<<4 | 8:
		for i := range out {
			out[i] = T(int64(le.Uint64(d[8*i:])))
		}
	case 'u'<<4 | 1:
		for i := range out {
			out[i] = T(d[i])
		}
	case 'b'<<4 | 1:
		for i := range out {
			out[i] = 0
			if d[i] != 0 {
				out[i] = 1
			}
		}
	case 'u'<<4 | 2:
		for i := range out {
			out[i] = T(le.Uint16(d[2*i:]))
		}
	case 'u'<<4 | 4:
		for i := range out {
			out[i] = T(le.Uint32(d[4*i:]))
		}
	case 'u'<<4 | 8:
		for i := range out {
			v := le.Uint64(d[8*i:])
			if !allowFloat && v > math.MaxInt64 {
				return fmt.Errorf("npy: uint64 value %d at index %d does not fit int64", v, i)
			}
			out[i] = T(v)
		}
	default:
		return fmt.Errorf("npy: unsupported dtype %q", a.DType)
	}
	return nil
}
