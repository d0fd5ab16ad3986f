package hugepage

import (
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// A slice below MinBytes is a plain make: zeroed, len and cap n.
func TestMakeSmall(t *testing.T) {
	for _, n := range []int{0, 1, 1000, MinBytes/4 - 1} {
		s := Make[float32](n)
		if len(s) != n || cap(s) != n {
			t.Fatalf("Make(%d): len %d cap %d", n, len(s), cap(s))
		}
		for i, v := range s {
			if v != 0 {
				t.Fatalf("Make(%d)[%d] = %v, want 0", n, i, v)
			}
		}
	}
}

// requireTHP skips when this system gives no transparent huge pages.
func requireTHP(t *testing.T) {
	t.Helper()
	if !enabled() {
		t.Skip("transparent huge pages unavailable here (not Linux, or /sys/kernel/mm/transparent_hugepage/enabled is [never])")
	}
}

// checkHuge fills s (writes are the first touch) and requires it to lie
// on huge pages: all of it when its last page is at least half used,
// else all but that last part page.
func checkHuge[T Elem](t *testing.T, s []T) {
	t.Helper()
	if p := uintptr(unsafe.Pointer(unsafe.SliceData(s))); p%Size != 0 {
		t.Fatalf("slice at %#x, not on a %d-byte boundary", p, Size)
	}
	for i := range s {
		s[i] = T(i)
	}
	bytes := len(s) * int(unsafe.Sizeof(s[0]))
	got, err := Backed(s)
	if err != nil {
		t.Fatal(err)
	}
	if got == 0 {
		if control() > 0 {
			t.Fatalf("no huge pages for %d bytes from Make, yet an madvised mmap gets them", bytes)
		}
		t.Skipf("the kernel gives no huge pages to an advised range (memory too fragmented, or THP defrag off?)")
	}
	want := bytes
	if tail := bytes % Size; tail < Size/2 {
		want -= tail
	}
	if got != want {
		t.Fatalf("%d of %d bytes on huge pages, want %d", got, bytes, want)
	}
	t.Logf("%d of %d bytes on huge pages", got, bytes)
	for i := range s {
		if s[i] != T(i) {
			t.Fatalf("s[%d] = %v, want %v", i, s[i], T(i))
		}
	}
}

// A large slice fresh from the operating system lands on huge pages at
// its first write.
func TestMakeFresh(t *testing.T) {
	requireTHP(t)
	// The slices stay alive: Backed apportions a mapping's huge pages
	// evenly, which is exact only if an advised neighbour the kernel merged
	// into s's mapping is all written too.
	a := Make[float32](3*Size/4 + 12345) // 6.05 MB: 3 pages, the tail on 4 KB
	checkHuge(t, a)
	b := Make[uint16](Size/2 + 1) // 2 MB + 2 bytes: 1 page
	checkHuge(t, b)
	c := Make[uint32](Size) // 8 MB: 4 pages
	checkHuge(t, c)
	d := Make[float32](Size/2 + Size/8 - 100) // 5 MB - 400 bytes: 2 pages, the tail on 4 KB
	checkHuge(t, d)
	e := Make[float32](Size/2 + Size/8) // 5 MB: 3 pages
	checkHuge(t, e)
	runtime.KeepAlive([]any{a, b, c, d, e})
}

// Memory the Go heap reuses after touching it on 4 KB pages (the case of
// nn.ConvertBF16, whose packs reuse the freed float32 weights) also ends
// on huge pages, and reads as zero: advise, as Make calls it, on an
// allocation already written on 4 KB pages and cleared again.
func TestMakeReused(t *testing.T) {
	requireTHP(t)
	const n = 16 << 20 // 64 MB
	buf := make([]float32, n+Size/4)
	for i := range buf {
		buf[i] = -1
	}
	clear(buf) // as the Go heap does before reusing memory
	p := uintptr(unsafe.Pointer(&buf[0]))
	off := int(((p+Size-1)&^(Size-1))-p) / 4
	advise(unsafe.Pointer(&buf[0]), len(buf)*4, unsafe.Pointer(&buf[off]), n*4)
	s := buf[off : off+n]
	for i, v := range buf {
		if v != 0 {
			t.Fatalf("after advise: buf[%d] = %v, want 0", i, v)
		}
	}
	checkHuge(t, s)
}

// The slices stay ordinary garbage: they are freed, and allocating many
// in turn does not grow the heap.
func TestMakeFreed(t *testing.T) {
	done := make(chan struct{}, 1)
	s := Make[float32](Size)
	s[0] = 1
	runtime.AddCleanup(&s[len(s)/2], func(struct{}) { done <- struct{}{} }, struct{}{})
	s = nil
	for start := time.Now(); ; {
		runtime.GC()
		select {
		case <-done:
			goto freed
		default:
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("a Make slice was never collected")
		}
		time.Sleep(10 * time.Millisecond)
	}
freed:
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	for i := range 40 {
		x := Make[float32](4<<20 + i) // 16 MB each, 640 MB in all
		x[len(x)-1] = 1
		runtime.KeepAlive(x)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if grew := int64(ms.HeapInuse) - int64(base); grew > 40<<20 {
		t.Fatalf("heap in use grew by %d MB after 40 dropped 16 MB slices", grew>>20)
	}
}
