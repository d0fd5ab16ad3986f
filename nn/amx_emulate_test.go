package nn

import (
	"testing"

	"github.com/metasurv/metasurv/internal/gemm"
)

// TestAMXEmulated runs the bfloat16 layer tests with the GEMMs on the
// emulated AMX tile kernel (internal/gemm EmulateAMX) where the CPU has
// AVX512_BF16 but no AMX, so that the layers' AMX choices (packed
// weights kept, the fc1→fc2 and patch-row fusions declined) are tested
// on every development machine.
func TestAMXEmulated(t *testing.T) {
	defer gemm.EmulateAMX(true)()
	if !gemm.EmulatesAMX() || !gemm.UsesAMX() {
		t.Skip("needs AVX512_BF16 without AMX (with AMX the other tests run the real tiles)")
	}
	for _, c := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"LinearBF16", TestLinearBF16},
		{"Conv3dBF16", TestConv3dBF16},
		{"Conv3dBF16Lean", TestConv3dBF16Lean},
		{"SelfAttentionBF16", TestSelfAttentionBF16},
		{"ConvertBF16Parity", TestConvertBF16Parity},
		{"ConvertBF16StateDict", TestConvertBF16StateDict},
		{"ConvertBF16ZeroAllocs", TestConvertBF16ZeroAllocs},
		{"LinearForwardPair", TestLinearForwardPair},
		{"LinearRows", TestLinearRows},
	} {
		t.Run(c.name, c.f)
	}
}
