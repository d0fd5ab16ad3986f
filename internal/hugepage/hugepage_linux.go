//go:build linux

package hugepage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

const (
	madvDontNeed = 4  // MADV_DONTNEED
	madvHugePage = 14 // MADV_HUGEPAGE
)

// enabled reports whether transparent huge pages can be had by madvise:
// THP "always" or "madvise" (read once).
var enabled = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return false
	}
	return bytes.Contains(b, []byte("[always]")) || bytes.Contains(b, []byte("[madvise]"))
})

// advise drops the 4 KB pages of the new allocation [all, all+alln) (all
// zero: the Go heap had either never touched them or just cleared them)
// and advises its huge-page-aligned part [huge, huge+hugen) MADV_HUGEPAGE,
// so that the first writes fault in whole 2 MB pages. Errors (old
// kernels, THP turned off since) are ignored: the memory then stays on
// 4 KB pages and reads as zero either way.
func advise(all unsafe.Pointer, alln int, huge unsafe.Pointer, hugen int) {
	const page = 4096
	lo := (uintptr(all) + page - 1) &^ (page - 1)
	hi := (uintptr(all) + uintptr(alln)) &^ (page - 1)
	if hi > lo {
		madvise(lo, hi-lo, madvDontNeed)
	}
	madvise(uintptr(huge), uintptr(hugen), madvHugePage)
}

func madvise(p, n uintptr, advice int) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, p, n, uintptr(advice)); e != 0 {
		return e
	}
	return nil
}

// backed sums AnonHugePages over the mappings of /proc/self/smaps that
// overlap [p, p+n), counting only their overlap: a mapping's huge pages
// are assumed spread evenly (exact when it lies inside the range, as the
// advised range does: MADV_HUGEPAGE gives it its own mapping).
func backed(p, n uintptr) (int, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var lo, hi, total uintptr
	got := 0
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		var a, b uintptr
		if k, _ := fmt.Sscanf(string(bytes.SplitN(line, []byte(" "), 2)[0]), "%x-%x", &a, &b); k == 2 {
			lo, hi = max(a, p), min(b, p+n)
			in = lo < hi
			if in {
				total = b - a
			}
			continue
		}
		if !in || !bytes.HasPrefix(line, []byte("AnonHugePages:")) {
			continue
		}
		var kb uint64
		if _, err := fmt.Sscanf(string(line), "AnonHugePages: %d kB", &kb); err != nil {
			return 0, fmt.Errorf("hugepage: smaps line %q: %w", line, err)
		}
		got += int(uint64(hi-lo) * (kb << 10) / uint64(total))
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if got == 0 && !enabled() {
		return 0, errors.New("hugepage: transparent huge pages are off (/sys/kernel/mm/transparent_hugepage/enabled)")
	}
	return got, nil
}
