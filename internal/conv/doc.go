// Package conv computes 3-D convolutions (torch.nn.Conv3d and
// ConvTranspose3d semantics) and their gradients for the CNN and ViT models:
// any kernel size, stride, padding, dilation and groups, in N,C,D,H,W
// row-major float32.
//
// A Plan is built once per layer shape. It picks an algorithm — a plain
// GEMM for 1×1×1 stride-1 layers, W·cols with the column matrix built in
// bounded tiles of output positions for everything else (the 7×7×7/2 stem,
// 3×3×3 blocks, the 16³/16 patch embedding), or a direct kernel for
// depthwise layers — packs the weights for the micro-kernels of
// internal/gemm, and owns the workspace, so that Forward, BackwardData and
// BackwardWeight allocate nothing after their first call. Forward fuses a
// bias, a residual add and ReLU/GELU into the GEMM's last pass over the
// output. FoldBatchNorm folds an inference-mode batch norm into the
// preceding convolution's weights and bias.
//
// A transposed convolution is the data gradient of the ordinary
// convolution that TransposedParams.Adjoint describes; TransposedPlan
// computes it (and its own gradients) with the same kernels.
package conv
