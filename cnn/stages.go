package cnn

import (
	"sync"

	"github.com/metasurv/metasurv/nn"
)

// stage is one step of a network's forward pass (the stem, a residual or
// dense layer, a transition, the pooling head).
type stage func(g *nn.Graph, x *nn.Tensor) *nn.Tensor

// scratch is a model's free list of inference graphs (each with its own
// arena), by whether they multiply in bfloat16. It lives in the model (not
// in a package-level cache, and not in a sync.Pool that a garbage
// collection would empty) and holds at most two graphs per concurrent pass.
type scratch struct {
	mu   sync.Mutex
	free [2][]*nn.Graph
}

func (s *scratch) get(bf16 bool) *nn.Graph {
	k := 0
	if bf16 {
		k = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.free[k]); n > 0 {
		g := s.free[k][n-1]
		s.free[k] = s.free[k][:n-1]
		return g
	}
	// Inference graphs draw no random numbers (dropout and drop-connect
	// act in training only, which runs in the caller's graph).
	return nn.NewGraph(nn.Options{Arena: nn.NewArena(), BF16: bf16})
}

func (s *scratch) put(g *nn.Graph) {
	k := 0
	if g.Options().BF16 {
		k = 1
	}
	s.mu.Lock()
	s.free[k] = append(s.free[k], g)
	s.mu.Unlock()
}

// runStages applies stages in order. When g records (training), or when
// random stages need g's generator (dropout, drop-connect in training
// mode), they run in g. In inference they alternate between two scratch graphs, so that
// only two stages' intermediates are alive at once instead of the whole
// pass's (an arena keeps every tensor of a pass until it is reset): stage
// i reads the output of stage i-1 from the other graph, which is reset
// only after. The last output is copied into g. ONNX Runtime frees its
// intermediates likewise.
func runStages(g *nn.Graph, x *nn.Tensor, sc *scratch, stages []stage, random bool) *nn.Tensor {
	if g.Recording() || random || g.Err() != nil {
		for _, s := range stages {
			x = s(g, x)
		}
		return x
	}
	bf16 := g.Options().BF16
	gs := [2]*nn.Graph{sc.get(bf16), sc.get(bf16)}
	defer sc.put(gs[0])
	defer sc.put(gs[1])
	for i, s := range stages {
		sg := gs[i%2]
		sg.Reset()
		x = s(sg, x)
		if err := sg.Err(); err != nil {
			sg.Reset()
			return g.SetErr(err)
		}
	}
	out := g.Alloc(x.Shape...)
	copy(out.Data, x.Data)
	return out
}
