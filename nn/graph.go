package nn

import (
	"fmt"
	"slices"

	"github.com/metasurv/metasurv/internal/conv"
	"github.com/metasurv/metasurv/internal/gemm"
)

// Options configures a Graph. The zero value is an inference graph that
// records nothing and allocates fresh tensors.
type Options struct {
	// Grad records operations so that Backward can compute gradients.
	Grad bool
	// Arena, when set, supplies every intermediate tensor (and intermediate
	// gradient); Graph.Reset resets it.
	Arena *Arena
	// RNG drives Dropout; nil means a generator seeded with 0.
	RNG *RNG
	// BF16 runs the Linear layers, the GEMM-based convolutions (1×1×1,
	// patch embeddings, column-matrix paths) and the two products of fused
	// self-attention (Q·Kᵀ and P·V; softmax in float32, as torch's
	// autocast) of an inference graph (Grad false) in bfloat16 with
	// float32 accumulation where the CPU has AVX512_BF16 (HaveBF16: AMX or
	// VDPBF16PS); elsewhere, and whenever Grad is on, it has no effect.
	BF16 bool
}

// Graph is the context of one forward (and backward) pass: it holds the tape
// of recorded operations when gradients are on, the buffer arena and the
// random generator for dropout, and the first error any operation met.
//
// Operations are methods on Graph (g.Add, g.Conv3d, ...). A Graph with
// Grad=false records nothing: inference pays only for the arithmetic.
// Shape errors do not panic: the failing operation stores an error, returns
// an empty tensor, and every later operation returns at once; check Err
// after the forward pass. A Graph is not safe for concurrent use.
type Graph struct {
	grad      bool
	noGrad    int
	arena     *Arena
	rng       *RNG
	tape      []*node
	err       error
	dead      *Tensor
	idx       []int32 // max-pool indices in inference
	job       *pjob
	ufn       func(float32) float32 // elementwise function of the running unary job
	unaryBody func(j *pjob, lo, hi int)
	ep        conv.Epilogue
	linEp     gemm.Epilogue    // the bias epilogue of the running Linear (kept here so it does not escape per call)
	linFuse   gemm.Epilogue    // residual and activation LinearAct fuses into the running Linear (no bias)
	pairEp    [2]gemm.Epilogue // the epilogues of a running Linear.ForwardPair (kept here so they do not escape per call)
	bf16      bool             // Options.BF16 on an inference graph where HaveBF16
	own       *packCache       // packed weights of functional calls (packs.go)
}

// node is one recorded operation: back receives the gradient of out and
// accumulates the gradients of its inputs through Graph.gradBuf.
type node struct {
	out  *Tensor
	back func(gout []float32)
}

// NewGraph returns a graph configured by opts.
func NewGraph(opts Options) *Graph {
	r := opts.RNG
	if r == nil {
		r = NewRNG(0)
	}
	g := &Graph{grad: opts.Grad, arena: opts.Arena, rng: r, dead: &Tensor{Shape: []int{0}}, job: newPjob()}
	g.bf16 = opts.BF16 && !opts.Grad && HaveBF16()
	g.unaryBody = func(j *pjob, lo, hi int) {
		f, dst := g.ufn, j.s[0][lo:hi]
		for i, v := range j.s[1][lo:hi] {
			dst[i] = f(v)
		}
	}
	return g
}

// Reset forgets the tape and the error and resets the arena, so the graph
// can run the next pass reusing its memory. Tensors from the previous pass
// become invalid when an arena is used.
func (g *Graph) Reset() {
	for i := range g.tape {
		g.tape[i] = nil
	}
	g.tape = g.tape[:0]
	g.err = nil
	if g.arena != nil {
		g.arena.Reset()
	}
}

// Err returns the first error met by an operation of this pass.
func (g *Graph) Err() error { return g.err }

// RNG returns the graph's random generator.
func (g *Graph) RNG() *RNG { return g.rng }

// Recording reports whether operations are currently being recorded.
func (g *Graph) Recording() bool { return g.grad && g.noGrad == 0 }

// NoGrad runs f with recording switched off (like torch.no_grad), for
// example to compute a metric inside a training pass.
func (g *Graph) NoGrad(f func()) {
	g.noGrad++
	defer func() { g.noGrad-- }()
	f()
}

// fail records the first error and returns the placeholder tensor.
func (g *Graph) fail(format string, args ...any) *Tensor {
	if g.err == nil {
		g.err = fmt.Errorf("%w: "+format, append([]any{ErrShape}, args...)...)
	}
	return g.dead
}

// SetErr records err as the graph's error (first one wins); layers outside
// this package use it to report their own shape errors.
func (g *Graph) SetErr(err error) *Tensor {
	if g.err == nil && err != nil {
		g.err = err
	}
	return g.dead
}

// bad reports whether an operation must be skipped because of an earlier
// error.
func (g *Graph) bad() bool { return g.err != nil }

// alloc returns an uninitialised tensor (from the arena when there is one).
func (g *Graph) alloc(shape ...int) *Tensor {
	if g.arena != nil {
		return g.arena.Tensor(shape...)
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// output returns into (ActOptions.Into) when it has the given shape, or a
// new tensor when into is nil; a shape mismatch fails the graph (what names
// the operation).
func (g *Graph) output(into *Tensor, what string, shape ...int) *Tensor {
	if into == nil {
		return g.alloc(shape...)
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if !SameShape(into.Shape, shape) || len(into.Data) != n {
		// (cloned: shape must not escape, or every call would allocate it)
		return g.fail("%s: Into has shape %v (%d values), the result %v", what, into.Shape, len(into.Data), slices.Clone(shape))
	}
	return into
}

// copyInto copies y into into (ActOptions.Into) for operations that cannot
// write there directly, and returns it; with into nil it returns y.
func (g *Graph) copyInto(into, y *Tensor, what string) *Tensor {
	if into == nil || g.bad() {
		return y
	}
	if g.rec(y) {
		return g.refuseInto(what)
	}
	out := g.output(into, what, y.Shape...)
	copy(out.Data, y.Data)
	return out
}

// refuseInto fails a recorded operation given ActOptions.Into.
func (g *Graph) refuseInto(what string) *Tensor {
	return g.SetErr(fmt.Errorf("%w: %s: ActOptions.Into needs an inference graph (a recorded pass keeps its tensors for the backward)", ErrInput, what))
}

// zeros returns a zero-filled tensor.
func (g *Graph) zeros(shape ...int) *Tensor {
	t := g.alloc(shape...)
	if g.arena != nil {
		clear(t.Data)
	}
	return t
}

// Alloc returns an uninitialised tensor owned by this pass (from the arena
// when there is one); custom operations use it for outputs.
func (g *Graph) Alloc(shape ...int) *Tensor { return g.alloc(shape...) }

// rec reports whether an operation on these inputs must be recorded.
func (g *Graph) rec(ins ...*Tensor) bool {
	if !g.grad || g.noGrad > 0 {
		return false
	}
	for _, t := range ins {
		if t.needsGrad() {
			return true
		}
	}
	return false
}

// record appends an operation to the tape.
func (g *Graph) record(out *Tensor, back func(gout []float32)) {
	n := &node{out: out, back: back}
	out.node = n
	g.tape = append(g.tape, n)
}

// gradBuf returns t's gradient buffer for an operation's backward to write
// into. fresh means it holds no value yet and must be overwritten; otherwise
// the caller adds to it. nil means t needs no gradient.
func (g *Graph) gradBuf(t *Tensor) (buf []float32, fresh bool) {
	if !t.needsGrad() {
		return nil, false
	}
	if t.grad == nil || len(t.grad.Data) != len(t.Data) {
		if t.node == nil || g.arena == nil { // leaves keep their gradient across passes
			t.grad = &Tensor{Shape: append([]int(nil), t.Shape...), Data: make([]float32, len(t.Data))}
		} else { // released again once the producer's backward consumed it
			t.grad = g.arena.view(g.arena.get(len(t.Data)), t.Shape)
		}
		t.gradOK = false
	}
	fresh = !t.gradOK
	t.gradOK = true
	return t.grad.Data, fresh
}

// passGrad makes the gradient buffer of from, whose backward is running,
// t's gradient, when an arena recycles buffers and t is an intermediate
// tensor of the same size holding no gradient yet. The caller then turns
// the buffer's contents into t's gradient in place (element by element,
// after reading them). It reports whether the buffer was handed on;
// otherwise the caller writes through gradBuf as usual.
func (g *Graph) passGrad(from, t *Tensor) bool {
	if g.arena == nil || t.node == nil || t.grad != nil || !t.needsGrad() ||
		from.grad == nil || len(from.grad.Data) != len(t.Data) {
		return false
	}
	t.grad, t.gradOK = g.arena.view(from.grad.Data, t.Shape), true
	from.grad, from.gradOK = nil, false
	return true
}

// adoptGrad makes buf, a scratch buffer of this pass (see scratch), t's
// gradient under the same conditions as passGrad; the caller then writes
// t's gradient into it (fresh). It reports whether it did.
func (g *Graph) adoptGrad(t *Tensor, buf []float32) bool {
	if g.arena == nil || t.node == nil || t.grad != nil || !t.needsGrad() || len(buf) != len(t.Data) {
		return false
	}
	t.grad, t.gradOK = g.arena.view(buf, t.Shape), true
	return true
}

// scratch returns a buffer of n values for use within one operation (or
// one backward), from the arena's released buffers when there is one;
// give it back with unscratch.
func (g *Graph) scratch(n int) []float32 {
	if g.arena != nil {
		return g.arena.get(n)
	}
	return make([]float32, n)
}

// unscratch releases a buffer obtained from scratch.
func (g *Graph) unscratch(b []float32) {
	if g.arena != nil {
		g.arena.put(b)
	}
}

// accum adds src into t's gradient (copying when fresh).
func (g *Graph) accum(t *Tensor, src []float32) {
	dst, fresh := g.gradBuf(t)
	if dst == nil {
		return
	}
	if fresh {
		copy(dst, src)
		return
	}
	addTo(dst, src)
}

// Backward computes the gradient of the scalar loss with respect to every
// tensor that requires one, adding to gradients already present (call
// ZeroGrad between steps, or keep them to accumulate over micro-batches).
// With an arena, gradients of intermediate tensors are recycled as soon as
// they are consumed (PyTorch does not retain them either); leaves keep
// theirs.
// The tape is consumed: call Reset before the next pass.
func (g *Graph) Backward(loss *Tensor) error {
	if g.err != nil {
		return g.err
	}
	if len(loss.Data) != 1 {
		return fmt.Errorf("%w: Backward needs a one-element loss, got shape %v", ErrShape, loss.Shape)
	}
	if !loss.needsGrad() {
		return fmt.Errorf("%w: Backward on a tensor with no recorded history (gradients off or nothing requires grad)", ErrInput)
	}
	return g.BackwardWith(loss, []float32{1})
}

// BackwardWith back-propagates an explicit gradient seed for out (same
// number of elements), e.g. for vector-Jacobian products.
func (g *Graph) BackwardWith(out *Tensor, seed []float32) error {
	if len(seed) != len(out.Data) {
		return fmt.Errorf("%w: gradient seed has %d values for a tensor of shape %v", ErrShape, len(seed), out.Shape)
	}
	g.accum(out, seed)
	for i := len(g.tape) - 1; i >= 0; i-- {
		n := g.tape[i]
		if n == nil || !n.out.gradOK {
			continue
		}
		n.back(n.out.grad.Data)
		// Intermediate gradients are not retained (as in PyTorch); a
		// backward may have handed the buffer on (passGrad).
		if g.arena != nil && n.out.grad != nil {
			g.arena.put(n.out.grad.Data)
			n.out.grad, n.out.gradOK = nil, false
		}
	}
	for i := range g.tape {
		g.tape[i].out.node = nil // release history: the tape is consumed
		g.tape[i] = nil
	}
	g.tape = g.tape[:0]
	return nil
}

// Detach returns a tensor sharing x's data with no history: gradients do not
// flow through it.
func (g *Graph) Detach(x *Tensor) *Tensor {
	return &Tensor{Shape: x.Shape, Data: x.Data}
}

// CustomBackward receives the gradient of a custom operation's output and
// returns the gradients of its inputs (nil for inputs that need none).
type CustomBackward func(gout []float32) [][]float32

// Custom adds a differentiable operation defined outside this package (for
// example a survival loss). out must be computed from ins by the caller
// (without Graph ops); back maps the output gradient to one gradient slice
// per input, each of the input's size (or nil). Only inputs that need a
// gradient receive one.
func (g *Graph) Custom(ins []*Tensor, out *Tensor, back CustomBackward) *Tensor {
	if g.bad() {
		return g.dead
	}
	if !g.rec(ins...) {
		return out
	}
	in := append([]*Tensor(nil), ins...)
	g.record(out, func(gout []float32) {
		grads := back(gout)
		for i, t := range in {
			if i >= len(grads) || grads[i] == nil || !t.needsGrad() {
				continue
			}
			if len(grads[i]) != len(t.Data) {
				panic(fmt.Sprintf("nn: custom backward returned %d values for input %d of shape %v", len(grads[i]), i, t.Shape))
			}
			g.accum(t, grads[i])
		}
	})
	return out
}
