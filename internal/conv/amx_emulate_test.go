package conv

import (
	"testing"

	"github.com/metasurv/metasurv/internal/gemm"
)

// TestAMXEmulated runs the bfloat16 convolution tests with the GEMMs on
// the emulated AMX tile kernel (internal/gemm EmulateAMX) where the CPU
// has AVX512_BF16 but no AMX: the plans then keep packed bfloat16 weights
// as they do on Intel hosts, and those paths are tested here too.
func TestAMXEmulated(t *testing.T) {
	defer gemm.EmulateAMX(true)()
	if !gemm.EmulatesAMX() {
		t.Skip("needs AVX512_BF16 without AMX (with AMX the other tests run the real tiles)")
	}
	t.Run("ForwardBF16", TestForwardBF16)
	t.Run("LeanBF16", TestLeanBF16)
	t.Run("PooledForwardDoesNotAllocate", TestPooledForwardDoesNotAllocate)
}
