package nn

import "github.com/metasurv/metasurv/internal/gemm"

// Bfloat16 inference (Options.BF16). On CPUs with AVX512_BF16, Linear
// layers of an inference graph multiply in bfloat16 with float32
// accumulation: on the AMX tile unit where present (Intel Sapphire/Emerald
// Rapids; internal/gemm measures 6–8× float32 per core on large products),
// else with VDPBF16PS (AMD Zen 4/5; about 2× float32 per core). Each weight
// is rounded and packed once and repacked when its values change, like the
// convolution plans (packs.go) — except, without AMX, weights of at least
// streamBF16Min values, which are rounded per call so that a large model
// holds no second copy of them (ops_matmul.go). Products keep
// about three significant digits: enough for a trained network's
// predictions and latents, not for training, which always runs in float32.

// HaveBF16 reports whether Options.BF16 takes effect on this machine
// (AVX512_BF16, with or without AMX).
func HaveBF16() bool { return gemm.HaveBF16() }
