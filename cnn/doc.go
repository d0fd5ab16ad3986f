// Package cnn holds the convolutional image models of the study, built on
// nn exactly as MONAI 1.3.2 builds them, so that weights trained with MONAI
// (or MedicalNet's released Med3D weights) load unchanged and give MONAI's
// numbers.
//
// # Overview
//
// Four families, each a concrete type with a typed configuration that
// mirrors the MONAI constructor's arguments:
//
//   - ResNet (NewResNet, ResNetConfig): MONAI's ResNet with basic and
//     bottleneck blocks, shortcut types A and B, conv1_t_size/stride,
//     no_max_pool, widen_factor, bias_downsample and feed_forward
//     (Classes 0); resnet10…resnet200 via ResNetDepth. MedicalNet's dilated
//     geometry (layer3/layer4 at stride 1, dilation 2 and 4) is
//     GeometryMedicalNet, and MedicalNetConfig gives the network its
//     released weights need.
//   - DenseNet (NewDenseNet): DenseNet121/169/201/264.
//   - SENet (NewSENet, SENetPreset): SENet154, SEResNet50/101/152 and
//     SEResNeXt50/101, with grouped convolutions and squeeze-and-excitation.
//   - EfficientNet (NewEfficientNet): EfficientNetBN b0–b7 in 3-D with
//     MONAI's static TensorFlow-style SAME padding, swish, squeeze-and-
//     excitation and drop-connect in training.
//
// Every model is an nn.Backbone: Forward maps (N, C, D, H, W) to logits,
// Embed to the penultimate features (N, EmbedDim()) that the classifier
// reads, and Visit names the state dict exactly as MONAI does (the tests
// compare every name and shape of the full-size models with MONAI's, and
// their logits and embeddings, in evaluation and training mode, with MONAI
// 1.3.2's: testdata/monai, weights recomputed from a hash).
// Every model also splits Embed at its global pool for Grad-CAM:
// FeatureMaps returns the last convolutional activations (N, EmbedDim(),
// d, h, w) and EmbedFromMaps pools them, so that
// EmbedFromMaps(FeatureMaps(x)) = Embed(x) (fusion.FeatureMapper).
//
// Models are built, and loaded, in training mode, as in PyTorch: for
// inference call nn.SetTraining(m, false) first, or the batch norms
// normalise with the batch's own statistics (and update the running
// means) instead of using the trained ones.
//
// # By name
//
// New builds any model from a name and a Config, so comparing
// architectures is a loop over Names:
//
//	for _, name := range []string{"resnet18", "densenet121", "seresnext50", "efficientnet-b0"} {
//		m, err := cnn.New(name, cnn.Config{InChannels: 4, Classes: 3})
//		...
//	}
//
// Zero Config fields mean MONAI's defaults (note MONAI's resnet stem has
// stride 1; MedicalNet's and most 3-D work use Conv1TStride 2). A field
// that does not apply to the named model is an error, not silently
// ignored.
//
// # Checkpoints
//
// Load and LoadStateDict read PyTorch (.pt/.pth, zip or legacy) and
// safetensors files, unwrap {"state_dict": …} and drop DataParallel's
// "module." prefix. Loading is strict: a missing, unexpected or mis-shaped
// tensor refuses the checkpoint with one error (ErrCheckpoint wrapping
// *nn.LoadError) that names every offending key, and leaves the model as it
// was. LoadOptions.Stem adapts a first convolution trained on another
// number of channels (repeat or average: MedicalNet's one-channel weights
// on four MRI sequences) and LoadOptions.IgnoreHead keeps a checkpoint's
// classifier out (another number of classes).
//
// A ResNet checkpoint does not record its geometry; InspectResNet reads
// what it can (block, depth, widths, shortcut, downsample bias, channels,
// classes) and says which geometry it needs: MedicalNet's released files
// ("module." keys, no classifier) need GeometryMedicalNet. OpenResNet
// builds that network and loads the file in one call.
//
// # Speed
//
// The models use nn's fused inference paths (batch norm with residual and
// ReLU in one sweep, batch norm + ReLU + max pooling in the stems,
// Winograd and GEMM convolution plans chosen per layer); run them with an
// nn.Arena so that repeated passes allocate nothing.
package cnn
