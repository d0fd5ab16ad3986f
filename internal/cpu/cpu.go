package cpu

import (
	"fmt"
	"sync/atomic"
)

// Level is an instruction-set tier that kernels are written for. Higher
// levels include every lower one, so a kernel may use any level <= Current().
type Level int32

const (
	// Portable runs plain Go code; it is always available.
	Portable Level = iota
	// AVX2 means AVX2 and FMA3 (256-bit vectors, 16 registers).
	AVX2
	// AVX512 means AVX-512 F, BW, DQ and VL (512-bit vectors, 32 registers).
	AVX512
)

// String names the level as it appears in benchmark and test names.
func (l Level) String() string {
	switch l {
	case Portable:
		return "portable"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("Level(%d)", int32(l))
}

// Features lists the optional extensions that some kernels can use on top
// of their Level. They are reported as detected, independent of SetLevel.
type Features struct {
	// BF16 is AVX512_BF16 (VDPBF16PS, VCVTNE2PS2BF16).
	BF16 bool
	// VNNI is AVX512_VNNI (VPDPBUSD).
	VNNI bool
	// AMXBF16 is the AMX tile unit with TDPBF16PS. The operating system
	// must also grant the tile state (internal/gemm asks Linux for it).
	AMXBF16 bool
}

var (
	detected Level
	features Features
	current  atomic.Int32
)

func init() {
	detected, features = detect()
	current.Store(int32(detected))
}

// Detected returns the highest level this machine and build support.
func Detected() Level { return detected }

// Current returns the level kernels must dispatch on right now. It equals
// Detected() unless a test lowered it with SetLevel.
func Current() Level { return Level(current.Load()) }

// Extensions returns the optional extensions detected on this machine. They
// are only usable when Current() is AVX512.
func Extensions() Features { return features }

// SetLevel makes kernels dispatch on l (clamped to Detected(), so asking for
// more than the hardware has is harmless) and returns a function that
// restores the previous level. It is meant for tests and benchmarks that
// compare code paths; it is safe for concurrent use, but changing the level
// while other goroutines run kernels makes them pick either path.
func SetLevel(l Level) (restore func()) {
	if l > detected {
		l = detected
	}
	if l < Portable {
		l = Portable
	}
	prev := current.Swap(int32(l))
	return func() { current.Store(prev) }
}

// Levels returns every level usable on this machine, lowest first, so that
// tests can loop over all code paths.
func Levels() []Level {
	ls := make([]Level, 0, int(detected)+1)
	for l := Portable; l <= detected; l++ {
		ls = append(ls, l)
	}
	return ls
}
