package nifti

import "fmt"

// Datatype is the NIfTI datatype code of the voxels (header field datatype).
type Datatype int16

// The NIfTI datatype codes. Codes without a Go equivalent (Float128,
// Complex256) and the bit-packed DTBinary are recognised so that error
// messages can name them, but images using them are rejected with ErrDatatype.
const (
	DTBinary     Datatype = 1
	DTUint8      Datatype = 2
	DTInt16      Datatype = 4
	DTInt32      Datatype = 8
	DTFloat32    Datatype = 16
	DTComplex64  Datatype = 32
	DTFloat64    Datatype = 64
	DTRGB24      Datatype = 128
	DTInt8       Datatype = 256
	DTUint16     Datatype = 512
	DTUint32     Datatype = 768
	DTInt64      Datatype = 1024
	DTUint64     Datatype = 1280
	DTFloat128   Datatype = 1536
	DTComplex128 Datatype = 1792
	DTComplex256 Datatype = 2048
	DTRGBA32     Datatype = 2304
)

type dtInfo struct {
	name      string
	size      int // bytes per voxel
	component int // bytes per value that needs byte swapping
	supported bool
}

var dtTable = map[Datatype]dtInfo{
	DTBinary:     {"binary", 0, 0, false},
	DTUint8:      {"uint8", 1, 1, true},
	DTInt16:      {"int16", 2, 2, true},
	DTInt32:      {"int32", 4, 4, true},
	DTFloat32:    {"float32", 4, 4, true},
	DTComplex64:  {"complex64", 8, 4, true},
	DTFloat64:    {"float64", 8, 8, true},
	DTRGB24:      {"rgb24", 3, 1, true},
	DTInt8:       {"int8", 1, 1, true},
	DTUint16:     {"uint16", 2, 2, true},
	DTUint32:     {"uint32", 4, 4, true},
	DTInt64:      {"int64", 8, 8, true},
	DTUint64:     {"uint64", 8, 8, true},
	DTFloat128:   {"float128", 16, 16, false},
	DTComplex128: {"complex128", 16, 8, true},
	DTComplex256: {"complex256", 32, 16, false},
	DTRGBA32:     {"rgba32", 4, 1, true},
}

// String returns the numpy-style name of the datatype ("int16", "float32",
// "rgb24", ...), or "datatype(N)" for an unknown code.
func (d Datatype) String() string {
	if in, ok := dtTable[d]; ok {
		return in.name
	}
	return fmt.Sprintf("datatype(%d)", int16(d))
}

// Size returns the number of bytes per voxel, or 0 for unknown or
// unsupported datatypes.
func (d Datatype) Size() int {
	if in, ok := dtTable[d]; ok && in.supported {
		return in.size
	}
	return 0
}

// Supported reports whether images of this datatype can be read and written.
func (d Datatype) Supported() bool { return d.Size() > 0 }

// Scalar reports whether each voxel is a single real number, i.e. whether
// the datatype converts to float32/float64 (not complex, not RGB).
func (d Datatype) Scalar() bool {
	switch d {
	case DTUint8, DTInt8, DTInt16, DTUint16, DTInt32, DTUint32, DTInt64, DTUint64, DTFloat32, DTFloat64:
		return true
	}
	return false
}

// swapSize is the width of the values that are byte-swapped between
// endiannesses (e.g. 4 for complex64, 1 for RGB).
func (d Datatype) swapSize() int { return dtTable[d].component }

func (d Datatype) check() error {
	if !d.Supported() {
		return fmt.Errorf("%w: datatype code %d (%s); supported: uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32, float64, complex64, complex128, rgb24, rgba32", ErrDatatype, int16(d), d)
	}
	return nil
}
