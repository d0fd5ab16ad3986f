package hugepage_test

import (
	"fmt"

	"github.com/metasurv/metasurv/internal/hugepage"
)

// A weight matrix of ViT-B's MLP (3072×768 float32, 9 MB): on Linux with
// transparent huge pages its memory is 2 MB-aligned and advised, so the
// GEMM's weight stream needs 5 TLB entries instead of 2304.
func ExampleMake() {
	w := hugepage.Make[float32](3072 * 768)
	for i := range w {
		w[i] = 0.5 // the first writes fault in the huge pages
	}
	fmt.Println(len(w), cap(w))
	// Output: 2359296 2359296
}
