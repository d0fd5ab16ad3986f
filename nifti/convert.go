package nifti

import (
	"encoding/binary"
	"math"
	"runtime"
	"sync"
)

// float is the set of output types of convert.
type float interface{ ~float32 | ~float64 }

// parallelMin is the number of voxels below which conversion stays on one
// goroutine.
const parallelMin = 1 << 19

// convert decodes len(dst) little-endian scalar values of type dt from src
// into dst, scaling by slope and inter unless they are (1, 0). Scaling is
// done in float64 (x·slope, then + inter, each rounded, as numpy does) and
// rounded once to the output type. Large inputs are split across CPUs.
func convert[O float](dst []O, src []byte, dt Datatype, slope, inter float64) {
	n := len(dst)
	workers := min(runtime.GOMAXPROCS(0), max(1, n/parallelMin))
	if workers == 1 {
		convertRange(dst, src, dt, slope, inter)
		return
	}
	sz := dt.Size()
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			convertRange(dst[lo:hi], src[lo*sz:hi*sz], dt, slope, inter)
		}()
	}
	wg.Wait()
}

// convertRange is the single-threaded body of convert.
func convertRange[O float](dst []O, src []byte, dt Datatype, slope, inter float64) {
	le := binary.LittleEndian
	if slope == 1 && inter == 0 {
		switch dt {
		case DTUint8:
			convertU8(dst, src)
		case DTInt8:
			for i := range dst {
				dst[i] = O(int8(src[i]))
			}
		case DTInt16:
			convert16(dst, src, true)
		case DTUint16:
			convert16(dst, src, false)
		case DTInt32:
			for i := range dst {
				dst[i] = O(int32(le.Uint32(src[4*i:])))
			}
		case DTUint32:
			for i := range dst {
				dst[i] = O(le.Uint32(src[4*i:]))
			}
		case DTInt64:
			for i := range dst {
				dst[i] = O(int64(le.Uint64(src[8*i:])))
			}
		case DTUint64:
			for i := range dst {
				dst[i] = O(le.Uint64(src[8*i:]))
			}
		case DTFloat32:
			for i := range dst {
				dst[i] = O(math.Float32frombits(le.Uint32(src[4*i:])))
			}
		case DTFloat64:
			for i := range dst {
				dst[i] = O(math.Float64frombits(le.Uint64(src[8*i:])))
			}
		}
		return
	}
	// The explicit float64 conversion of the product forbids fusing it with
	// the addition (FMA), keeping numpy's two roundings.
	switch dt {
	case DTUint8:
		for i := range dst {
			dst[i] = O(float64(float64(src[i])*slope) + inter)
		}
	case DTInt8:
		for i := range dst {
			dst[i] = O(float64(float64(int8(src[i]))*slope) + inter)
		}
	case DTInt16:
		for i := range dst {
			dst[i] = O(float64(float64(int16(le.Uint16(src[2*i:])))*slope) + inter)
		}
	case DTUint16:
		for i := range dst {
			dst[i] = O(float64(float64(le.Uint16(src[2*i:]))*slope) + inter)
		}
	case DTInt32:
		for i := range dst {
			dst[i] = O(float64(float64(int32(le.Uint32(src[4*i:])))*slope) + inter)
		}
	case DTUint32:
		for i := range dst {
			dst[i] = O(float64(float64(le.Uint32(src[4*i:]))*slope) + inter)
		}
	case DTInt64:
		for i := range dst {
			dst[i] = O(float64(float64(int64(le.Uint64(src[8*i:])))*slope) + inter)
		}
	case DTUint64:
		for i := range dst {
			dst[i] = O(float64(float64(le.Uint64(src[8*i:]))*slope) + inter)
		}
	case DTFloat32:
		for i := range dst {
			dst[i] = O(float64(float64(math.Float32frombits(le.Uint32(src[4*i:])))*slope) + inter)
		}
	case DTFloat64:
		for i := range dst {
			dst[i] = O(float64(math.Float64frombits(le.Uint64(src[8*i:]))*slope) + inter)
		}
	}
}

// putFloat32s stores src as little-endian float32 bytes in dst.
func putFloat32s(dst []byte, src []float32) {
	for i, x := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(x))
	}
}

// convertU8 is the unscaled uint8 case, 8 voxels per 64-bit load (fewer
// bounds checks than one load per voxel).
func convertU8[O float](dst []O, src []byte) {
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		w := binary.LittleEndian.Uint64(src[i:])
		d := dst[i : i+8 : i+8]
		d[0], d[1], d[2], d[3] = O(byte(w)), O(byte(w>>8)), O(byte(w>>16)), O(byte(w>>24))
		d[4], d[5], d[6], d[7] = O(byte(w>>32)), O(byte(w>>40)), O(byte(w>>48)), O(byte(w>>56))
	}
	for ; i < len(dst); i++ {
		dst[i] = O(src[i])
	}
}

// convert16 is the unscaled int16 (signed) or uint16 case, 4 voxels per
// 64-bit load.
func convert16[O float](dst []O, src []byte, signed bool) {
	i := 0
	if signed {
		for ; i+4 <= len(dst); i += 4 {
			w := binary.LittleEndian.Uint64(src[2*i:])
			d := dst[i : i+4 : i+4]
			d[0], d[1], d[2], d[3] = O(int16(w)), O(int16(w>>16)), O(int16(w>>32)), O(int16(w>>48))
		}
		for ; i < len(dst); i++ {
			dst[i] = O(int16(binary.LittleEndian.Uint16(src[2*i:])))
		}
		return
	}
	for ; i+4 <= len(dst); i += 4 {
		w := binary.LittleEndian.Uint64(src[2*i:])
		d := dst[i : i+4 : i+4]
		d[0], d[1], d[2], d[3] = O(uint16(w)), O(uint16(w>>16)), O(uint16(w>>32)), O(uint16(w>>48))
	}
	for ; i < len(dst); i++ {
		dst[i] = O(binary.LittleEndian.Uint16(src[2*i:]))
	}
}
