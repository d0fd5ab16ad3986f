package nn

import (
	"math"
	"sync"
	"unsafe"

	"github.com/metasurv/metasurv/internal/attention"
	"github.com/metasurv/metasurv/internal/conv"
	"github.com/metasurv/metasurv/internal/gemm"
)

// Packed weights. Convolutions run on internal/conv plans, which hold a
// layer's packed (and, for Winograd, transformed) weights plus workspace;
// bfloat16 Linear layers below streamBF16Min values multiply with weights
// rounded and packed once (larger ones round theirs per call, see
// linearProduct); float32 Linear layers read their weights in place;
// fused attention keeps per-shape workspaces. Rebuilding them on every call
// would cost more than many small layers compute, so they are cached — in a
// packCache owned by the layer that uses them (Conv3d, ConvTranspose3d,
// Linear, MultiHeadAttention made by their constructors) or, for functional
// calls (Graph.Conv3d, Graph.Linear) and layers built as literals, by the
// Graph. Nothing is cached at package level: dropping a model or a graph
// drops its packs, and each cache is bounded (maxPacks idle plans of each
// kind, maxPacks bfloat16 packs).
//
// A pack is current when the weight tensor's version (bumped by every
// library write: LoadStateDict, Init*, FoldBatchNorm, the optimizers,
// Tensor.CopyFrom/Update) and its Data slice (address and length) and
// a sampled fingerprint of its values are those it was built from. The
// fingerprint catches callers who rewrite Data directly (copy into it,
// re-initialise it, scale it); a full hash of every weight on every call
// would cost ~30 % of a ResNet18 forward pass.
//
// Entries are checked out for the duration of one call, so concurrent
// graphs running the same layer never share a plan.

// maxPacks bounds the entries of one cache (geometries × concurrent users).
const maxPacks = 64

type packCache struct {
	mu    sync.Mutex
	plans freeLists[planKey, *planEntry]
	attn  freeLists[attention.Config, *attention.Plan]
	bf16  map[*Tensor]*bf16Entry
}

// freeLists keeps idle entries per key, at most maxPacks in all (beyond,
// it starts over: a layer run at ever new input sizes keeps the recent
// ones). The caller holds packCache.mu.
type freeLists[K comparable, V any] struct {
	m map[K][]V
	n int
}

func (f *freeLists[K, V]) take(k K) (v V, ok bool) {
	l := f.m[k]
	if len(l) == 0 {
		return v, false
	}
	f.m[k] = l[:len(l)-1]
	f.n--
	return l[len(l)-1], true
}

func (f *freeLists[K, V]) put(k K, v V) {
	if f.n >= maxPacks || f.m == nil {
		f.m = map[K][]V{}
		f.n = 0
	}
	f.m[k] = append(f.m[k], v)
	f.n++
}

func newPackCache() *packCache { return &packCache{} }

// packs returns pc, or the graph's own cache when pc is nil.
func (g *Graph) packs(pc *packCache) *packCache {
	if pc != nil {
		return pc
	}
	if g.own == nil {
		g.own = newPackCache()
	}
	return g.own
}

// weightStamp identifies the values a pack was built from.
type weightStamp struct {
	ver  uint64
	ptr  *float32
	n    int
	hash uint64
}

// fingerprintSamples is how many values the fingerprint reads.
const fingerprintSamples = 64

func stampOf(w *Tensor) weightStamp {
	s := weightStamp{ver: w.version, n: len(w.Data)}
	if len(w.Data) == 0 {
		return s
	}
	s.ptr = unsafe.SliceData(w.Data)
	h := uint64(14695981039346656037)
	n := len(w.Data)
	step := max(1, n/fingerprintSamples)
	for i := 0; i < n; i += step {
		h = (h ^ uint64(math.Float32bits(w.Data[i]))) * 1099511628211
	}
	h = (h ^ uint64(math.Float32bits(w.Data[n-1]))) * 1099511628211
	s.hash = h
	return s
}

type planKey struct {
	p          conv.Params
	outPad     [3]int
	transposed bool
	w          *Tensor
}

type planEntry struct {
	plan  *conv.Plan
	tplan *conv.TransposedPlan
	stamp weightStamp
	set   bool
}

func (pc *packCache) acquirePlan(k planKey) (*planEntry, error) {
	pc.mu.Lock()
	e, ok := pc.plans.take(k)
	pc.mu.Unlock()
	if ok {
		return e, nil
	}
	e = &planEntry{}
	var err error
	if k.transposed {
		e.tplan, err = conv.NewTransposedPlan(conv.TransposedParams{Params: k.p, OutputPadding: k.outPad})
	} else {
		e.plan, err = conv.NewPlan(k.p)
	}
	return e, err
}

func (pc *packCache) releasePlan(k planKey, e *planEntry) {
	pc.mu.Lock()
	pc.plans.put(k, e)
	pc.mu.Unlock()
}

// cachedPlans reports how many plans are cached for weight w (tests).
func (pc *packCache) cachedPlans(w *Tensor) int {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	n := 0
	for k, l := range pc.plans.m {
		if k.w == w {
			n += len(l)
		}
	}
	return n
}

// withPlan runs fn with a plan for k whose weights are current.
func (pc *packCache) withPlan(k planKey, fn func(e *planEntry) error) error {
	e, err := pc.checkout(k)
	if err != nil {
		return err
	}
	defer pc.releasePlan(k, e)
	return fn(e)
}

// checkout acquires a plan for k and makes its packed weights current; the
// caller must releasePlan it.
func (pc *packCache) checkout(k planKey) (*planEntry, error) {
	e, err := pc.acquirePlan(k)
	if err != nil {
		return nil, err
	}
	if s := stampOf(k.w); !e.set || e.stamp != s {
		if k.transposed {
			err = e.tplan.SetWeights(k.w.Data)
		} else {
			err = e.plan.SetWeights(k.w.Data)
		}
		if err != nil {
			pc.releasePlan(k, e)
			return nil, err
		}
		e.set, e.stamp = true, s
	}
	return e, nil
}

func (c *convGeom) params() conv.Params {
	return conv.Params{N: c.n, InC: c.cin, OutC: c.cout, In: c.in, Kernel: c.k,
		Stride: c.o.Stride, Pad: c.o.Padding, Dilation: c.o.Dilation, Groups: c.o.Groups}
}

func (pc *packCache) acquireAttn(c attention.Config) (*attention.Plan, error) {
	pc.mu.Lock()
	p, ok := pc.attn.take(c)
	pc.mu.Unlock()
	if ok {
		return p, nil
	}
	return attention.NewPlan(c)
}

func (pc *packCache) releaseAttn(c attention.Config, p *attention.Plan) {
	pc.mu.Lock()
	pc.attn.put(c, p)
	pc.mu.Unlock()
}

type bf16Entry struct {
	stamp weightStamp
	pb    *gemm.PackedBF16
}

// packedWeightBF16 returns w ([out, in]) packed as the B operand Wᵀ of
// x·Wᵀ, packing it when its values changed.
func (pc *packCache) packedWeightBF16(w *Tensor) (*gemm.PackedBF16, error) {
	s := stampOf(w)
	pc.mu.Lock()
	e, ok := pc.bf16[w]
	pc.mu.Unlock()
	if ok && e.stamp == s {
		return e.pb, nil
	}
	out, in := w.Shape[0], w.Shape[1]
	pb, err := gemm.PackBBF16(true, in, out, w.Data, in)
	if err != nil {
		return nil, err
	}
	pc.mu.Lock()
	if pc.bf16 == nil || len(pc.bf16) >= maxPacks {
		pc.bf16 = map[*Tensor]*bf16Entry{}
	}
	pc.bf16[w] = &bf16Entry{stamp: s, pb: pb}
	pc.mu.Unlock()
	return pb, nil
}
