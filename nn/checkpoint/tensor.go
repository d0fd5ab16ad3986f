package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"
)

// dtype describes an element type of a stored tensor.
type dtype struct {
	name  string // torch name: "float32", "int64", ...
	size  int    // bytes per element
	float bool   // converted to float32 only; integers are also kept exactly
}

var (
	dtFloat32  = dtype{"float32", 4, true}
	dtFloat64  = dtype{"float64", 8, true}
	dtFloat16  = dtype{"float16", 2, true}
	dtBFloat16 = dtype{"bfloat16", 2, true}
	dtInt64    = dtype{"int64", 8, false}
	dtInt32    = dtype{"int32", 4, false}
	dtInt16    = dtype{"int16", 2, false}
	dtInt8     = dtype{"int8", 1, false}
	dtUint8    = dtype{"uint8", 1, false}
	dtBool     = dtype{"bool", 1, false}
)

// storageDTypes maps torch's legacy storage class names (what torch.save
// writes as the storage type of a persistent id) to element types.
var storageDTypes = map[string]dtype{
	"FloatStorage":    dtFloat32,
	"DoubleStorage":   dtFloat64,
	"HalfStorage":     dtFloat16,
	"BFloat16Storage": dtBFloat16,
	"LongStorage":     dtInt64,
	"IntStorage":      dtInt32,
	"ShortStorage":    dtInt16,
	"CharStorage":     dtInt8,
	"ByteStorage":     dtUint8,
	"BoolStorage":     dtBool,
}

// storageRef is a typed storage named by a persistent id: elements
// [offset, offset+numel) of the root storage key (offset is non-zero only
// for the storage views of the legacy format).
type storageRef struct {
	dt     dtype
	key    string
	offset int64
	numel  int64
}

// tensorRef is a tensor as torch._utils._rebuild_tensor_v2 describes it: a
// strided view of a storage. Its data is read only if it is selected.
type tensorRef struct {
	st     *storageRef
	offset int64
	size   []int
	stride []int64
}

// maxDim bounds one dimension and one stride before products are formed.
const maxDim = 1 << 48

// rebuildTensor validates the arguments of _rebuild_tensor(_v2):
// (storage, storage_offset, size, stride, ...). The view must lie inside
// the storage.
func rebuildTensor(args pyTuple) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("%w: _rebuild_tensor needs (storage, offset, size, stride), got %d arguments", ErrPickle, len(args))
	}
	st, ok := args[0].(*storageRef)
	if !ok {
		return nil, fmt.Errorf("%w: _rebuild_tensor storage is %s, want a storage persistent id", ErrPickle, typeName(args[0]))
	}
	off, ok := args[1].(int64)
	if !ok || off < 0 || off > maxDim {
		return nil, fmt.Errorf("%w: _rebuild_tensor storage offset %s invalid", ErrPickle, brief(args[1]))
	}
	size, err1 := intTuple(args[2])
	stride, err2 := intTuple(args[3])
	if err1 != nil || err2 != nil || len(size) != len(stride) || len(size) > 64 {
		return nil, fmt.Errorf("%w: _rebuild_tensor size %s and stride %s invalid", ErrPickle, brief(args[2]), brief(args[3]))
	}
	t := &tensorRef{st: st, offset: off, size: make([]int, len(size)), stride: stride}
	empty := false
	for i, s := range size {
		t.size[i] = int(s)
		empty = empty || s == 0
	}
	if empty {
		return t, nil // no element is ever read: any strides are valid
	}
	last := off // storage index of the last element
	for i, s := range size {
		if s > 1 && stride[i] > 0 {
			if stride[i] > st.numel/(s-1) {
				return nil, viewError(t, st)
			}
			last += (s - 1) * stride[i]
		}
	}
	if last >= st.numel {
		return nil, viewError(t, st)
	}
	return t, nil
}

func viewError(t *tensorRef, st *storageRef) error {
	return fmt.Errorf("%w: tensor view (offset %d, size %v, stride %v) exceeds its storage of %d elements", ErrPickle, t.offset, t.size, t.stride, st.numel)
}

// intTuple converts a tuple of non-negative bounded ints.
func intTuple(v any) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("want a tuple, got %s", typeName(v))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 || n > maxDim {
			return nil, fmt.Errorf("element %s out of range", brief(x))
		}
		out[i] = n
	}
	return out, nil
}

// extentBytes is how many bytes of the root storage the view reaches
// (rebuildTensor checked that they lie inside the storage).
func (t *tensorRef) extentBytes() int64 {
	last := t.st.offset + t.offset
	for i, s := range t.size {
		if s == 0 {
			return 0
		}
		if s > 1 && t.stride[i] > 0 {
			last += int64(s-1) * t.stride[i]
		}
	}
	return (last + 1) * int64(t.st.dt.size)
}

// numel returns the element count of the view, bounded by limit.
func (t *tensorRef) numel(limit int64) (int64, error) {
	n := int64(1)
	for _, s := range t.size {
		if s != 0 && n > limit/int64(s) {
			return 0, fmt.Errorf("%w: tensor of shape %v exceeds the size limit", ErrTooLarge, t.size)
		}
		n *= int64(s)
	}
	return n, nil
}

// gather walks the view in C order and calls emit with the element index
// (within the root storage) of every element.
func (t *tensorRef) gather(n int64, emit func(o int, idx int64)) {
	base := t.st.offset + t.offset
	if n == 0 {
		return
	}
	k := len(t.size)
	if k == 0 {
		emit(0, base)
		return
	}
	idx := make([]int, k)
	inner, istride := t.size[k-1], t.stride[k-1]
	row := base
	o := 0
	for {
		p := row
		for i := 0; i < inner; i++ {
			emit(o, p)
			o++
			p += istride
		}
		j := k - 2
		for ; j >= 0; j-- {
			idx[j]++
			row += t.stride[j]
			if idx[j] < t.size[j] {
				break
			}
			row -= int64(idx[j]) * t.stride[j]
			idx[j] = 0
		}
		if j < 0 {
			return
		}
	}
}

// contiguous reports whether the view is a dense C-order block.
func (t *tensorRef) contiguous() bool {
	want := int64(1)
	for i := len(t.size) - 1; i >= 0; i-- {
		if t.size[i] != 1 && t.stride[i] != want {
			return false
		}
		want *= int64(t.size[i])
	}
	return true
}

// toFloat32 materialises the view from the raw little-endian bytes of its
// root storage. Floating types convert to float32 (float64 rounds to
// nearest even; float16 and bfloat16 are exact), integers and booleans by
// value.
func (t *tensorRef) toFloat32(raw []byte, n int64) []float32 {
	out := make([]float32, n)
	if n == 0 {
		return out // an empty view may carry any offset
	}
	dec := decodeFloat32(t.st.dt)
	sz := int64(t.st.dt.size)
	if t.contiguous() {
		start := (t.st.offset + t.offset) * sz
		if t.st.dt == dtFloat32 {
			src := raw[start : start+4*n]
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
			}
			return out
		}
		for i := range out {
			out[i] = dec(raw[start+int64(i)*sz:])
		}
		return out
	}
	t.gather(n, func(o int, idx int64) { out[o] = dec(raw[idx*sz:]) })
	return out
}

// toInt64 materialises an integer or boolean view exactly.
func (t *tensorRef) toInt64(raw []byte, n int64) []int64 {
	out := make([]int64, n)
	dec := decodeInt64(t.st.dt)
	sz := int64(t.st.dt.size)
	t.gather(n, func(o int, idx int64) { out[o] = dec(raw[idx*sz:]) })
	return out
}

func decodeFloat32(dt dtype) func([]byte) float32 {
	le := binary.LittleEndian
	switch dt {
	case dtFloat32:
		return func(b []byte) float32 { return math.Float32frombits(le.Uint32(b)) }
	case dtFloat64:
		return func(b []byte) float32 { return float32(math.Float64frombits(le.Uint64(b))) }
	case dtFloat16:
		return func(b []byte) float32 { return halfToFloat32(le.Uint16(b)) }
	case dtBFloat16:
		return func(b []byte) float32 { return math.Float32frombits(uint32(le.Uint16(b)) << 16) }
	}
	di := decodeInt64(dt)
	return func(b []byte) float32 { return float32(di(b)) }
}

func decodeInt64(dt dtype) func([]byte) int64 {
	le := binary.LittleEndian
	switch dt {
	case dtInt64:
		return func(b []byte) int64 { return int64(le.Uint64(b)) }
	case dtInt32:
		return func(b []byte) int64 { return int64(int32(le.Uint32(b))) }
	case dtInt16:
		return func(b []byte) int64 { return int64(int16(le.Uint16(b))) }
	case dtInt8:
		return func(b []byte) int64 { return int64(int8(b[0])) }
	case dtUint8:
		return func(b []byte) int64 { return int64(b[0]) }
	case dtBool:
		return func(b []byte) int64 {
			if b[0] != 0 {
				return 1
			}
			return 0
		}
	}
	panic("checkpoint: decodeInt64 of floating type " + dt.name) // internal invariant
}

// halfToFloat32 converts IEEE 754 binary16 to float32 exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value = man * 2^-24, exact in float32.
		f := float32(man) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}

// swapBytes reverses the bytes of every element (big-endian storages).
func swapBytes(b []byte, size int) {
	if size == 1 {
		return
	}
	for i := 0; i+size <= len(b); i += size {
		e := b[i : i+size]
		for l, r := 0, size-1; l < r; l, r = l+1, r-1 {
			e[l], e[r] = e[r], e[l]
		}
	}
}
