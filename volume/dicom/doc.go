// Package dicom reads DICOM MR images into volume.Volume, placing them in
// world space exactly as dcm2niix does and refusing the series that dcm2niix
// would write with a false geometry. It is pure Go and imports only volume.
//
// # Overview
//
// Hospitals export MRI as a folder of DICOM files with opaque names and
// several series mixed. Scan reads such a folder, groups the images into
// series and checks their geometry; Series.Volume decodes one series into a
// volume.Volume (RAS+ world millimetres, voxels in NIfTI order), ready for
// norm.Preprocess. ReadDir does both for a folder with one acquisition.
// examples/dcm2nii writes every series as NIfTI with a dcm2niix-like
// JSON sidecar.
//
// # Files
//
// Parse, Read and ReadFile parse DICOM Part 10 files (128-byte preamble,
// "DICM", file meta information) and bare data sets, in Implicit VR Little
// Endian, Explicit VR Little Endian, Deflated Explicit VR Little Endian and
// Explicit VR Big Endian. Sequences of defined and undefined length are
// parsed into items (UN of undefined length as Implicit VR, as the standard
// says); private elements of defined length are kept as raw bytes, so a
// vendor's private sequence cannot break the parse (those of undefined
// length are walked only to find their end). Only two private elements are
// read, after their private creator is checked: the Siemens CSA image
// header (mosaics) and the Philips scale slope. DataSet.String, Floats,
// Int and Seq read values.
//
// DataSet.DecodeFrames decodes greyscale pixels: native 8- and 16-bit,
// signed or unsigned, with BitsStored/HighBit masking and sign extension;
// RLE Lossless; and lossless JPEG (ITU-T T.81 process 14, all seven
// predictors, point transform and restart intervals — "JPEG Lossless,
// First-Order Prediction" is the usual PACS export). JPEG 2000, JPEG-LS and
// lossy JPEG are refused with ErrUnsupported naming the transfer syntax;
// convert them first (gdcmconv --raw).
//
// # Series
//
// Images are grouped by StudyInstanceUID, SeriesInstanceUID, echo time and
// number, orientation, image size, pixel spacing and ImageType, so echoes,
// localizers (three planes in one series) and derived images come apart.
// Enhanced MR multi-frame files contribute one image per frame, read from
// the per-frame and shared functional groups (plane position and
// orientation, pixel measures, rescale, echo time, stack). Siemens mosaics
// are split into their tiles using the CSA image header
// (NumberOfImagesInMosaic, SliceNormalVector), placed as nibabel and dcm2niix
// place them.
//
// Slices are sorted by ImagePositionPatient projected on the slice normal
// (row cosine × column cosine) — never by InstanceNumber or file name. The
// slice spacing comes from the positions, not SliceThickness. A stack with
// a missing slice, uneven spacing, two slices at one position or a slice
// off the stack axis (gantry tilt) gets Series.Err wrapping ErrGeometry with
// the positions named; with ScanOptions.SplitGaps it is split into its
// regular runs instead. Slices that repeat the same positions (two
// acquisitions or time points in one series) are split by AcquisitionNumber
// or temporal position when that explains the repeats. Each slice is
// rescaled with its own slope and intercept; Series.UniformRescale says
// whether they were all equal. Philips images get dcm2niix's default
// "precise" values from the private scale slope (Options.PhilipsDisplayScaling
// keeps the display values).
//
// The affine maps voxel (i, j, k) = (column, row, slice) to world:
// ImageOrientationPatient's row cosine × PixelSpacing[1], its column cosine
// × PixelSpacing[0], the step between the first and last slice positions
// divided by n−1, and the first slice's position, converted from LPS to RAS
// by negating x and y. Oblique stacks are exact; no rounding to an axis.
// dcm2niix flips the row axis on output; the two images are the same in
// world space (reference_test.go compares them voxel by voxel).
//
// # Metadata
//
// Series.Meta holds what a user needs to choose inputs: descriptions, TE,
// TR, TI, flip angle, field strength, 2D/3D, contrast agent and the
// sequence fields. GuessSequence labels a series T1, T1c, T2 or FLAIR from
// its description and timing, with the reason, for a person to confirm;
// SelectSequences picks one series per contrast from a folder (originals
// before derived images, 3-D before 2-D, finer voxels first) and notes
// every choice it had to make.
//
// # Safety
//
// Every element length is checked against the bytes that remain, nesting
// against Options.MaxDepth, and the file, inflated data and decoded frames
// against Options.MaxBytes (1 GiB by default) before anything is allocated;
// a series volume is bounded by ScanOptions.MaxVolumeBytes. Damaged input
// gives an error wrapping ErrNotDICOM, ErrTruncated, ErrMalformed,
// ErrUnsupported, ErrTooLarge, ErrGeometry or ErrNoImage — never a panic
// (see the Fuzz targets).
package dicom
