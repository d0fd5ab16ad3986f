// Package attention is the fused scaled-dot-product attention of the ViT
// models: out = softmax(scale·Q·Kᵀ)·V per batch and head, with the
// softmax made numerically stable by subtracting each row's maximum, and
// its gradient (dQ, dK, dV) for training.
//
// The ViT-B/16 hot path has T = 216 tokens, 12 heads of D = 64, so a
// head's whole 216×216 score matrix fits in L2: a Plan computes it with
// the GEMM micro-kernels, applies the softmax in place and multiplies by V,
// one head per worker of the internal/parallel pool at a time. The
// backward pass recomputes the probabilities instead of storing them.
//
// Layouts are strides, so Q, K and V can be read straight out of a fused
// qkv projection (PackedQKV) and the output written token-major
// (TokenMajor), as MONAI's SABlock rearranges them, without copies.
package attention
