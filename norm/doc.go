// Package norm prepares MRI intensities for the models: bias-field
// correction, intensity normalisation, brain masking, and the whole
// preprocessing pipeline that turns four raw sequences into the model's
// 4×96³ input.
//
// # Intensity
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
//
// # Bias field
//
// N4 is ITK's N4BiasFieldCorrectionImageFilter (Tustison 2010): the log
// image is sharpened by Wiener deconvolution of its histogram and the
// residual fitted by multi-level cubic B-splines; the zero N4Options are
// CaPTk's settings. The pipeline uses it only on copies that drive the
// registrations.
//
// # Brain masks
//
// A Stripper computes a brain mask; the pipeline takes any, so a learned
// stripper can plug in later. AtlasStripper registers an atlas to the
// subject (rigid Mattes MI on random samples), carries the atlas's brain
// mask over (trilinear, > 0.5) and refines it by morphology (largest
// component, closing, hole filling); with SameGrid it uses the atlas mask
// directly on images already resampled to the atlas. Two strippers need
// no atlas: BET (Smith 2002: a tessellated sphere evolved under BET's three
// update terms from the centre of gravity; without BET's self-intersection
// rerun and second pass) and ThresholdStripper (BET's robust threshold
// followed by erosion, largest component and reconstruction). On Colin27
// (ch2 against ch2bet) they reach Dice 0.991 (atlas, on a rigidly moved
// ch2), 0.942 (BET) and 0.949 (threshold).
//
// The mask morphology they use (volume.Erode, Dilate, Close, FillHoles,
// LargestComponent, Dice) lives in package volume.
//
// # Pipeline
//
// Preprocess follows CaPTk's BraTS pipeline: reorient every sequence to the
// atlas orientation; N4-correct copies for registration; register T1, T2
// and FLAIR to T1c (restricted to the atlas brain mask carried to T1c,
// dilated by 10 mm) and T1c to the atlas, rigidly; compose the matrices
// and resample each original image once onto the atlas grid (trilinear);
// mask; stack T1, T1c, T2, FLAIR; resize to 96³ by area averaging (MONAI
// Resize's default); z-score each channel. A missing sequence is an
// ErrMissing error unless Options.Missing is MissingZeroFill, which zeroes
// its channel, sets Stack.Present false and lists it in the Report; without
// T1c the hub is the first of T1, FLAIR, T2. The Report (JSON) records
// every matrix, metric value and step time. On synthetic patients
// (internal/synth: four sequences in different orientations, spacings and
// rigid motions, with bias and noise) the composed transforms are within
// 0.1–0.3 mm of the truth over the brain.
package norm
