package hugepage

import "unsafe"

// Size is the huge page size Make aligns to: 2 MB, the x86-64 and arm64
// (4 KB granule) transparent huge page.
const Size = 2 << 20

// MinBytes is the smallest slice Make places on huge pages. Below it the
// rounding to a whole huge page would cost more memory than the TLB
// entries are worth.
const MinBytes = Size

// Elem is the element types Make allocates: pointer-free numbers (the
// memory is advised and dropped behind the garbage collector's back,
// which only pointer-free memory allows).
type Elem interface {
	~float32 | ~float64 | ~uint16 | ~uint32 | ~int32 | ~int64 | ~uint8
}

// Make returns a zeroed slice of n elements (len and cap n), like
// make([]T, n). When it holds at least MinBytes and the system offers
// transparent huge pages, its memory starts on a Size boundary and is
// advised to be backed by huge pages, up to its last whole huge page;
// otherwise it is a plain make. Rounding costs at most 1 MB of resident
// memory per slice: a last huge page less than half used is not asked for.
func Make[T Elem](n int) []T {
	var zero T
	sz := int(unsafe.Sizeof(zero))
	if n < 0 || n > (1<<62)/sz {
		return make([]T, n) // make's own panic
	}
	bytes := n * sz
	if bytes < MinBytes || !enabled() {
		return make([]T, n)
	}
	// The huge pages: the whole ones, and the last part one when it is at
	// least half used (so rounding costs at most 1 MB per slice; a shorter
	// tail stays on 4 KB pages).
	span := bytes &^ (Size - 1)
	if bytes-span >= Size/2 {
		span += Size
	}
	buf := make([]T, (max(span, bytes)+Size)/sz) // plus room to align
	p := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	off := int(((p+Size-1)&^(Size-1))-p) / sz
	advise(unsafe.Pointer(unsafe.SliceData(buf)), len(buf)*sz, unsafe.Pointer(&buf[off]), span)
	return buf[off : off+n : off+n]
}

// Backed returns the bytes of s that sit on huge pages now (0 where this
// cannot be known, with the reason).
func Backed[T Elem](s []T) (int, error) {
	if len(s) == 0 {
		return 0, nil
	}
	var zero T
	return backed(uintptr(unsafe.Pointer(unsafe.SliceData(s))), uintptr(len(s))*unsafe.Sizeof(zero))
}
