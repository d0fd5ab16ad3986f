package gemm

import (
	"testing"

	"github.com/metasurv/metasurv/internal/hugepage"
)

// Resident bfloat16 weights (PackWeightsBF16, nn.ConvertBF16) lie on huge
// pages where the system gives them: SgemmBF16W streams them every call.
func TestPackWeightsBF16HugePages(t *testing.T) {
	const n, k = 3072, 768 // 4.7 MB packed
	w := make([]float32, n*k)
	for i := range w {
		w[i] = float32(i%97) - 48
	}
	p := PackWeightsBF16(n, k, w, k)
	got, err := hugepage.Backed(p.b)
	if err != nil {
		t.Skipf("huge pages not checked: %v", err)
	}
	if bytes := len(p.b) * 4; got < bytes-hugepage.Size/2 {
		t.Fatalf("%d of %d packed bytes on huge pages", got, bytes)
	}
	t.Logf("%d of %d packed bytes on huge pages", got, len(p.b)*4)
}
