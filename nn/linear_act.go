package nn

import "github.com/metasurv/metasurv/internal/gemm"

// LinearAct is what a Linear fuses into the output pass of its product
// (Linear.ForwardAct, Graph.LinearAct, MultiHeadAttention.ForwardAct):
// y = act(x·Wᵀ + b + Residual). A transformer block's residual
// connections and its MLP's GELU then cost no pass over memory of their
// own (the GEMM's epilogue applies them to each tile while it is in
// cache). The zero value fuses nothing.
type LinearAct struct {
	// Residual, if not nil, is added to the output; it must have the
	// output's shape (no broadcasting).
	Residual *Tensor
	// GELU applies the exact (erf) GELU after the residual.
	GELU bool
}

// LinearAct computes act(x·Wᵀ + b + a.Residual) (see Graph.Linear). On a
// graph that records, it runs the unfused operations (Linear, Add, GELU),
// whose gradients are those of the fused result.
func (g *Graph) LinearAct(x, w, b *Tensor, a LinearAct) *Tensor {
	return g.linearAct(x, w, b, nil, a)
}

// ForwardAct applies the layer with a fused into its output pass.
func (l *Linear) ForwardAct(g *Graph, x *Tensor, a LinearAct) *Tensor {
	return g.linearAct(x, l.Weight, l.Bias, l.packs, a)
}

func (g *Graph) linearAct(x, w, b *Tensor, pc *packCache, a LinearAct) *Tensor {
	if g.bad() {
		return g.dead
	}
	if a.Residual == nil && !a.GELU {
		return g.linear(x, w, b, pc)
	}
	if !g.checkLinearResidual(x, w, a.Residual) {
		return g.dead
	}
	ins := [4]*Tensor{x, w, x, x}
	if b != nil {
		ins[2] = b
	}
	if a.Residual != nil {
		ins[3] = a.Residual
	}
	if g.rec(ins[:]...) {
		return g.applyLinearAct(g.linear(x, w, b, pc), a)
	}
	g.linFuse = a.epilogue(nil)
	y := g.linear(x, w, b, pc)
	g.linFuse = gemm.Epilogue{}
	return y
}

// epilogue is the GEMM epilogue of a with bias b (nil: none, as when the
// product adds the bias itself).
func (a LinearAct) epilogue(b *Tensor) gemm.Epilogue {
	var ep gemm.Epilogue
	if b != nil {
		ep.Bias = b.Data
	}
	if a.Residual != nil {
		ep.Residual = a.Residual.Data
	}
	if a.GELU {
		ep.Act = gemm.GELU
	}
	return ep
}

// checkLinearResidual fails the graph unless r is nil or has the shape of
// x·Wᵀ (x [..., in], w [out, in]); a malformed x or w is left to Linear.
func (g *Graph) checkLinearResidual(x, w, r *Tensor) bool {
	nd := len(x.Shape)
	if r == nil || nd == 0 || len(w.Shape) != 2 {
		return true
	}
	ok := len(r.Shape) == nd && r.Shape[nd-1] == w.Shape[0]
	for i := 0; ok && i < nd-1; i++ {
		ok = r.Shape[i] == x.Shape[i]
	}
	if !ok {
		var sb [8]int
		out := append(append(sb[:0], x.Shape[:nd-1]...), w.Shape[0])
		g.fail("Linear: residual %v does not match the output %v", r.Shape, out)
		return false
	}
	return true
}

// applyLinearAct applies a to y as separate operations (recording graphs
// and the paths that cannot fuse it).
func (g *Graph) applyLinearAct(y *Tensor, a LinearAct) *Tensor {
	if a.Residual != nil {
		if !SameShape(a.Residual.Shape, y.Shape) {
			return g.fail("residual %v does not match the output %v", a.Residual.Shape, y.Shape)
		}
		y = g.Add(y, a.Residual)
	}
	if a.GELU {
		y = g.GELU(y)
	}
	return y
}
