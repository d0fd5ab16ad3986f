package nn

// Backbone is the small interface every image model of the zoo (vit, cnn)
// satisfies, so that fusion, the trainer and the Predictor take any
// backbone without knowing which one it is — as image.Image is to the
// concrete image types.
//
// Forward (from Module) maps an image batch (N, C, D, H, W) to logits
// (N, classes); Embed maps the same batch to the penultimate features
// (N, EmbedDim()), the input of the final classifier; Visit names the state
// dict exactly as the PyTorch/MONAI model does.
type Backbone interface {
	Module
	// Embed returns the penultimate embedding of x, shape (N, EmbedDim()).
	Embed(g *Graph, x *Tensor) *Tensor
	// EmbedDim is the length of one embedding.
	EmbedDim() int
}
