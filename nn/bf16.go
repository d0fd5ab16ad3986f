package nn

import "github.com/metasurv/metasurv/internal/gemm"

// Bfloat16 inference (Options.BF16). On CPUs with AMX, Linear layers of an
// inference graph multiply in bfloat16 with float32 accumulation, several
// times faster than float32 (internal/gemm measures 6–8× per core on
// large products). Each weight is rounded and packed once and repacked when
// its values change, like the convolution plans (packs.go). Products keep
// about three significant digits: enough for a trained network's
// predictions and latents, not for training, which always runs in float32.

// HaveBF16 reports whether Options.BF16 takes effect on this machine (AMX
// with bfloat16, granted by the operating system).
func HaveBF16() bool { return gemm.HaveBF16() }
