// Package vit holds the study's transformer models, exactly as MONAI 1.3.2
// builds them so that weights trained with MONAI load and give the same
// numbers:
//
//   - ViT (monai.networks.nets.ViT): patch embedding ("conv" or
//     "perceptron") with learnable position embeddings, pre-norm
//     transformer blocks (multi-head self-attention, GELU MLP), a final
//     LayerNorm, and a classification head on a cls token (with MONAI's
//     default Tanh) or the token features.
//   - AutoEnc (ViTAutoEnc): the same encoder without cls token, and the
//     reconstruction through two transposed convolutions. LaMIMEncoder()
//     is the configuration of the study's foundation model (Chen et al.,
//     Eur Radiol 2024), 506,112,020 parameters.
//   - LaMIMClassifier, the study's "ViTClassifier_block16": the last block's
//     output, AvgPool2d(3, stride 3) over (tokens, hidden), and a
//     Linear–ReLU–Linear–ReLU–Linear head.
//
// Every model is an nn.Backbone (Forward, Embed, Visit) and an Encoder
// (Encode returns every block's output). Its state dict carries MONAI's
// names, in MONAI's order.
//
// # Loading weights
//
// Load streams a .pt/.pth or safetensors checkpoint straight into the
// model's parameters (nn/checkpoint.LoadInto): the 2 GB LaMIM checkpoint
// needs no second copy in memory. "module." prefixes are removed and the
// cross-attention weights MONAI ≥ 1.4 adds to every block are ignored
// (MONAIName). A checkpoint that does not fit — missing, unexpected or
// mis-shaped tensors — is refused before anything is copied, with one
// *nn.LoadError naming every offending key. Build a model that is loaded
// right away with Config.SkipInit to skip the random initialisation.
//
// # Latents
//
// Latents embeds one patient: the full multichannel input, and with
// LatentOptions.PerSequence each MRI sequence alone with the others set to
// zero (the study's Figure 2). Pool chooses the reduction: the mean of the
// normalised tokens, the LaMIM pool, or the cls token.
//
// # Where the model looks
//
// AttentionRollout (Abnar & Zuidema 2020) multiplies every block's
// head-fused attention, with the identity added for the residual, and
// reads the cls token's row (ViT) or the mean over tokens (ViTAutoEnc,
// LaMIM): one weight per patch, upsampled to the input grid as a map to
// overlay like an occlusion map (Rollout.Volume). RolloutOptions choose
// the head fusion (mean, max, min), a discard ratio and the first block.
// The probabilities are recomputed from each block's query and key
// projections, since the fused attention kernel never forms them.
//
// # Speed
//
// Inference runs on nn's GEMM, fused attention and LayerNorm kernels;
// pass nn.Options{BF16: true} to the graph for bfloat16 products where the
// CPU supports them (nn.HaveBF16), and an nn.Arena to reuse buffers
// between passes. For inference only, nn.ConvertBF16(model) keeps the
// Linear and patch-embedding weights in bfloat16 only: the LaMIM encoder
// then holds 1 GB of weights instead of 2 GB, and a BF16 pass reads half
// the bytes (every pass then uses the rounded weights; training the
// converted model is refused).
package vit
