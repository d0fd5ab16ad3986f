//go:build !linux

package hugepage

import (
	"errors"
	"unsafe"
)

// enabled is false: transparent huge pages are advised on Linux only.
func enabled() bool { return false }

func advise(all unsafe.Pointer, alln int, huge unsafe.Pointer, hugen int) {}

func backed(p, n uintptr) (int, error) {
	return 0, errors.New("hugepage: huge page backing is known on Linux only")
}
