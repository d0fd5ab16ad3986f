// Package hugepage allocates large slices whose memory the operating
// system may back with transparent huge pages (2 MB on x86-64 Linux).
//
// # Why
//
// A network's inference streams its weights from memory on every call
// (internal/gemm's weights-stationary kernels prefetch W block by block).
// On 4 KB pages every 4 KB of that stream needs a TLB entry, and a
// prefetch that misses the TLB holds the kernel for a page walk; on the
// Zen 4 host of issue #17 the walks cost about 3 % of a bfloat16 ViT-B
// pass. On 2 MB pages the walks all but vanish. The Go heap gets no huge
// pages by itself where /sys/kernel/mm/transparent_hugepage/enabled is
// "madvise" (the common default), so the weights ask for them.
//
// # How
//
// Make returns a Go slice (garbage collected as usual) whose backing
// array starts on a 2 MB boundary and whose last huge page is not shared
// with other objects. On Linux with THP "always" or "madvise" the range
// is advised MADV_HUGEPAGE before its first write, after any 4 KB pages
// the Go heap had left in it are dropped (MADV_DONTNEED: the slice is
// still all zero), so the first writes fault in 2 MB pages. The cost is
// the rounding of the slice up to whole 2 MB pages in resident memory,
// at most 1 MB (a last page less than half used stays on 4 KB pages),
// plus up to 2 MB of untouched address space for the alignment.
// Small slices, other systems, THP "never" and kernels that refuse the
// advice get a plain make: the advice is an optimisation, never a failure.
//
// The advice outlives the slice: once the garbage collector frees it, the
// heap may reuse the range for other objects, which then also fault in
// huge pages (the runtime's scavenger releases them 4 KB-wise again). Each
// advised slice splits the heap's mapping in up to three (far below the
// kernel's vm.max_map_count for the few hundred weights of a model).
// Make is meant for long-lived data read often: weights, not activations.
//
// Backed reports how much of a slice is huge-page backed (Linux,
// /proc/self/smaps), for tests and diagnostics.
package hugepage
