// Package conv computes 3-D convolutions (torch.nn.Conv3d and
// ConvTranspose3d semantics) and their gradients for the CNN and ViT models:
// any kernel size, stride, padding, dilation and groups, in N,C,D,H,W
// row-major float32.
//
// A Plan is built once per layer shape (NewPlan, then SetWeights after
// every weight change). It picks an algorithm and owns its packed weights
// and gradient workspaces (forward workspaces are pooled, see Memory), so
// Forward, BackwardData and BackwardWeight allocate nothing after their
// first call:
//
//   - direct (AVX-512): the input of each sample is copied once into a
//     zero-padded buffer split into stride phases; on that grid every
//     kernel tap is a constant shift, so an output tile is accumulated in
//     registers over all input channels and taps straight from the input
//     rows — no column matrix: 8 channels × 48 positions, or 64 channels ×
//     6 positions with the weights as vectors when the layer has a multiple
//     of 64 output channels (the stem). This serves the 7×7×7/2 stem,
//     strided 3×3×3 layers and other strides up to 2. The data gradient of
//     a stride-1 layer is the direct convolution of dy with the flipped,
//     transposed weights; the weight gradient reduces along the contiguous
//     grid axis, 8 output channels × 3 taps per register tile.
//   - batched columns: layers with tiny outputs (N·outSp ≤ 512, a
//     ResNet's last stage) run one GEMM over the whole batch per pass.
//   - Winograd F(2×2×2, 3×3×3) (AVX-512 and AVX2): stride-1 3×3×3 layers with at
//     least 16 channels and 27 output tiles (ResNet and DenseNet blocks)
//     compute 2×2×2 output tiles from 4×4×4 input tiles with 64 instead of
//     216 multiplies per channel pair: the transforms run in assembly over
//     16 tiles (or 16 channels) per vector and write the GEMM micro-kernel's
//     packed operands directly, so the 64 GEMMs per tile block run without
//     packing. The data gradient is the same convolution with flipped
//     weights; the weight gradient is the transform's adjoint,
//     Gᵀ[Σ (A dy Aᵀ) ⊙ (Bᵀ x B)]G, with the tiles as the GEMM depth.
//   - depthwise (AVX-512): one input channel per group (EfficientNet): all
//     taps of a channel in registers, 128 grid positions at a time.
//   - pointwise GEMM: 1×1×1 stride-1 layers are y = W·x on internal/gemm.
//   - im2col GEMM: everything else (the 16³/16 patch embedding, large
//     strides, the portable and AVX2 levels): W·cols with the column matrix
//     built in bounded tiles of output positions (about 1 MB), never the
//     whole k³-times-larger matrix; col2im for the data gradient.
//
// Memory. Inference on a 96³ volume is dominated by the weights, so the
// deep low-resolution layers (N·outSp ≤ 512: a ResNet's last two stages,
// most of its weights) are lean: their forward multiplies by the weights
// as stored, with no packed or transformed copy (in bfloat16 without AMX,
// weights of ≥ 256 K values are rounded per call, 32 rows at a time;
// smaller ones keep a bfloat16 pack), and takes all
// output positions in one column tile so the weights are read once.
// Transient workspaces — the direct kernels' padded inputs, lean column
// tiles, Winograd blocks — are borrowed from one package pool for the
// duration of a call: the layers of a network run one after the other, so
// one buffer serves them all.
//
// Forward fuses a bias, a residual add and ReLU/GELU into its output pass
// (Epilogue). FoldBatchNorm folds an inference-mode batch norm into the
// preceding convolution's weights and bias.
//
// A transposed convolution is the data gradient of the ordinary
// convolution that TransposedParams.Adjoint describes; TransposedPlan
// computes it (and its own gradients) with the same kernels.
//
// Every path is checked against a float64 reference at every cpu level
// (tests and FuzzConv3d).
package conv
