// Package parallel runs data-parallel loops on a persistent pool of worker
// goroutines, one per GOMAXPROCS, so that kernels called thousands of times
// per forward pass (GEMM, convolution, element-wise ops) split their work
// across cores without creating goroutines or allocating on each call.
//
// For splits [0,n) into one contiguous, balanced range per worker: the
// right choice for uniform work such as the column panels of a GEMM.
// ForChunks hands out ranges of at least grain items on demand: the right
// choice when items cost different amounts. The calling goroutine always
// takes part, so a call returns as soon as all ranges are done.
//
// Calls may nest (a loop body may itself call For): a worker that is busy
// never waits for another worker to become free, it runs the remaining
// ranges itself, so nesting cannot deadlock. Concurrent calls from
// independent goroutines share the workers. A panic in a loop body is
// re-raised in the calling goroutine after the other ranges finished.
package parallel
