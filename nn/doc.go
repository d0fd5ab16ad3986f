// Package nn is metasurv's neural-network core: float32 tensors, a
// define-by-run reverse-mode autograd, PyTorch-compatible layers, losses
// and state dicts, on the SIMD kernels of internal/gemm, internal/conv and
// internal/ops.
//
// # Tensors
//
// A Tensor is a row-major contiguous float32 array with a shape (N, C, D, H,
// W for volumes). View/Graph.Reshape share data, and Graph.View a range of
// it (one sample's run of channels) — with ActOptions.Into, which makes an
// inference layer write its result there, a concatenation can be built in
// place (DenseNet's dense blocks). An Arena recycles the
// buffers of a pass: with one, a repeated forward pass allocates nothing
// after warm-up.
//
// # Graphs and autograd
//
// Every operation is a method of a Graph, the context of one pass:
//
//	g := nn.NewGraph(nn.Options{Grad: true, Arena: arena})
//	logits := model.Forward(g, x)
//	loss := g.CrossEntropy(logits, labels, nn.CEOptions{})
//	err := g.Backward(loss) // parameters' Grad() now hold dloss/dparam
//
// With Grad false (the zero Options) nothing is recorded: inference pays
// only for arithmetic. Gradients flow to tensors with RequiresGrad (the
// parameters made by the layer constructors) and accumulate across Backward
// calls until ZeroGrad. Graph.Custom adds differentiable operations from
// other packages. Shape errors do not panic: the failing operation records
// an error that Graph.Err returns, and later operations are skipped.
//
// # Modules and state dicts
//
// Layers (Linear, Conv3d, ConvTranspose3d, BatchNorm, GroupNorm,
// InstanceNorm3d, LayerNorm, Dropout, PReLU, pooling, MultiHeadAttention,
// Sequential and the activation modules) implement Module: Forward plus a
// Visit that names parameters, buffers and children exactly as PyTorch and
// MONAI do, so StateDict/LoadStateDict map 1:1 onto torch checkpoints.
// SetTraining switches train/eval behaviour, Freeze stops gradients of a
// sub-network (frozen encoder, trainable head). Constructors initialise
// weights as PyTorch does (Kaiming-uniform a=√5, bias ±1/√fan_in) from a
// seeded RNG, so the same seed reproduces a run.
//
// # Training memory and fused layers
//
// With an arena, intermediate gradients live only until their producer's
// backward has consumed them, and elementwise backward passes (ReLU, Add,
// batch norm) rewrite the incoming gradient buffer in place instead of
// taking a new one. The fused kernels are reached through the layers, with
// an ActOptions saying what follows the layer: BatchNorm.ForwardAct fuses a
// ResNet's relu(bn(x) + shortcut) into one sweep forward and one backward,
// keeping only x and the output for the backward pass (the same bits as
// the separate BatchNorm, Add and ReLU), and with ActOptions.MaxPool the
// stem's maxpool(relu(bn(x))) (ActOptions.AvgPool: DenseNet's
// transitions) without storing the full-resolution activation; Conv3d.ForwardAct runs relu(conv(x) + b + shortcut) in the
// convolution's output pass in inference (after FoldBatchNorm);
// MultiHeadAttention runs fused attention that never stores the T×T
// probabilities. Batch-norm and ReLU kernels are AVX-512/AVX2 assembly
// with one reduction order at every level.
//
// # Packed weights and resources
//
// Convolution plans (packed, Winograd-transformed weights) and bfloat16
// weight packs are owned by the layers that use them (by the Graph for the
// functional Graph.Conv3d and Graph.Linear) and dropped with them; each
// cache is bounded. They are rebuilt when the weights change: every write
// through this package (LoadStateDict, Init*, FoldBatchNorm,
// Tensor.CopyFrom/Update) and nn/optim marks the tensor changed, and a
// sampled fingerprint of the values catches direct writes to Data that
// rewrite a weight (copy into it, re-initialise, scale). Edit single
// values of a parameter with Tensor.Update. Convolutions with few output
// columns (batch × output voxels ≤ 512: a CNN's deep stages at 96³, a
// ViT's patch embedding) keep no packed copy at all: they multiply by the
// weights as stored, and inference's BatchNorm+ReLU+MaxPool stem
// normalises a few planes at a time, so that inference holds little more
// than the weights and two stages' activations (ResNet18 at 96³, batch
// 1: peak RSS 466 → 269 MB, below ONNX Runtime's 288 MB, for ~5–10 %
// more CPU time).
// SetThreads sets the number of
// goroutines of every kernel (default GOMAXPROCS).
//
// # Errors
//
// Errors wrap ErrShape (operands that do not fit), ErrInput (arguments out
// of their domain) or ErrStateDict (LoadStateDict; a *LoadError lists
// every missing, unexpected and mis-shaped key); test with errors.Is/As.
//
// # Bfloat16 inference
//
// Options.BF16 makes the Linear layers and GEMM-based convolutions (1×1×1,
// patch embeddings) of an inference graph (Grad false) multiply in bfloat16
// with float32 accumulation on CPUs with AVX512_BF16 (HaveBF16): with AMX
// a ViT-B block runs about 4× faster, with VDPBF16PS alone (AMD Zen 4/5)
// its products about 2×. Products keep about
// three significant digits; training always runs in float32.
//
// ConvertBF16 goes further for a model that only runs inference, like
// PyTorch's model.to(torch.bfloat16): it keeps the Linear and
// patch-embedding weights in bfloat16 only, pre-packed for the GEMM, and
// frees their float32 copies. The weights then take half the memory, a
// BF16 pass reads half the bytes and rounds nothing per call, and every
// pass (BF16 or not) uses the rounded weights. Converted weights have nil
// Data (Tensor.Values and StateDict widen them exactly), refuse recording
// graphs with ErrBF16, and round whatever is loaded into them.
//
// Optimizers and schedules live in nn/optim; checkpoint readers in
// nn/checkpoint.
package nn
