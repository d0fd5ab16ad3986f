// Package ops holds the non-GEMM kernels of the network code: elementwise
// arithmetic and activations (ReLU, leaky ReLU, sigmoid, tanh, SiLU, exact
// GELU) with their gradients, softmax and log-softmax over the last
// dimension, LayerNorm, BatchNorm (training statistics and inference),
// GroupNorm/InstanceNorm, 3-D max/average/adaptive/global pooling with
// gradients, and keepdim sums and means over axes.
//
// All kernels work on caller-owned float32 slices in row-major order, so the
// nn package can wrap tensors without copies and reuse buffers between
// calls. Forward definitions follow PyTorch exactly (torch's pooling output
// sizes and divisors, biased variance for normalization and unbiased for
// running statistics, GELU with the erf-based normal CDF), so MONAI weights
// reproduce MONAI outputs. Accumulations are done in float64 where a float32
// sum could lose digits (statistics, reductions).
//
// The transcendental kernels have AVX-512 versions: exp (Cody–Waite
// reduction, polynomial, VSCALEFPS) behind softmax, log-softmax, sigmoid
// and SiLU, and the exact GELU and its gradient (erfc with an FMA-split
// exponent), all within a few 1e-7 relative of float64; other levels use
// the Go versions, which are the reference. Large elementwise calls are
// split over the worker pool of internal/parallel; the per-channel and
// per-row kernels parallelize over channels or rows.
package ops
