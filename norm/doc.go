// Package norm prepares MRI intensities for the models: bias-field
// correction, intensity normalisation, brain masking, and the whole
// preprocessing pipeline that turns four raw sequences into the model's
// 4×96³ input.
//
// Intensity normalisation follows MONAI exactly, so that weights trained in
// MONAI see the same numbers: ZScore is NormalizeIntensity(nonzero=True,
// channel_wise=True), PercentileScale is ScaleIntensityRangePercentiles and
// MinMax is ScaleIntensity. Each is a Normalizer that works on one channel;
// ApplyStack runs it channel-wise over a volume.Stack and leaves channels of
// missing sequences at zero. HistogramMatch maps an image's quantiles onto a
// reference's, as ITK's HistogramMatchingImageFilter.
//
// Images with NaN or infinite voxels are refused with ErrNonFinite rather
// than normalised into NaNs.
package norm
