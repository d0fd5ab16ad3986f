package hugepage

import "syscall"

// control returns the huge-page bytes the kernel gives an mmap'd 8 MB
// region advised MADV_HUGEPAGE and written, outside the Go heap: what
// Make should get too.
func control() int {
	b, err := syscall.Mmap(-1, 0, 4*Size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return 0
	}
	defer syscall.Munmap(b)
	if err := syscall.Madvise(b, syscall.MADV_HUGEPAGE); err != nil {
		return 0
	}
	for i := range b {
		b[i] = 1
	}
	got, _ := Backed(b)
	return got
}
