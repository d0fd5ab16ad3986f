package nn

// Options returns the options g was made with, BF16 reporting whether
// bfloat16 products are in effect (requested, inference, and supported by
// the CPU). A model that runs part of a pass in a scratch graph of its
// own (to release intermediates early) makes it with these options.
func (g *Graph) Options() Options {
	return Options{Grad: g.grad, Arena: g.arena, RNG: g.rng, BF16: g.bf16}
}
