package nn

import (
	"runtime"
	"sync"
	"weak"

	"github.com/metasurv/metasurv/internal/gemm"
)

// Bfloat16 inference (Options.BF16). On CPUs with AMX, Linear layers of an
// inference graph multiply in bfloat16 with float32 accumulation, several
// times faster than float32 (internal/gemm measures 6–8× per core on
// large products). Each weight is rounded and packed once per version
// (Tensor.Touch invalidates it), like the convolution plans. Products keep
// about three significant digits: enough for a trained network's
// predictions and latents, not for training, which always runs in float32.

// HaveBF16 reports whether Options.BF16 takes effect on this machine (AMX
// with bfloat16, granted by the operating system).
func HaveBF16() bool { return gemm.HaveBF16() }

type bf16Entry struct {
	ver uint64
	pb  *gemm.PackedBF16
}

// bf16Cache holds the packed weights per weight tensor, weakly: a dropped
// model's entries are removed by a cleanup.
var bf16Cache = struct {
	sync.Mutex
	m map[weak.Pointer[Tensor]]*bf16Entry
}{m: map[weak.Pointer[Tensor]]*bf16Entry{}}

// packedWeightBF16 returns w ([out, in]) packed as the B operand Wᵀ of
// x·Wᵀ, packing it when its version changed.
func packedWeightBF16(w *Tensor) (*gemm.PackedBF16, error) {
	key := weak.Make(w)
	bf16Cache.Lock()
	e, ok := bf16Cache.m[key]
	bf16Cache.Unlock()
	if ok && e.ver == w.version {
		return e.pb, nil
	}
	out, in := w.Shape[0], w.Shape[1]
	pb, err := gemm.PackBBF16(true, in, out, w.Data, in)
	if err != nil {
		return nil, err
	}
	bf16Cache.Lock()
	if !ok {
		runtime.AddCleanup(w, forgetBF16, key)
	}
	bf16Cache.m[key] = &bf16Entry{ver: w.version, pb: pb}
	bf16Cache.Unlock()
	return pb, nil
}

func forgetBF16(key weak.Pointer[Tensor]) {
	bf16Cache.Lock()
	delete(bf16Cache.m, key)
	bf16Cache.Unlock()
}
