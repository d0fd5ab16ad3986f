// Package nifti reads and writes NIfTI-1 and NIfTI-2 images (.nii,
// .nii.gz, .hdr/.img pairs, gzipped or not) exactly as nibabel reads them.
//
// Two levels of API:
//
//   - Load and Save move a 3-D float32 volume.Volume in world RAS+ mm to and
//     from a file: voxels scaled by scl_slope/scl_inter (ignored when the
//     slope is 0 or not finite) and the affine chosen by nibabel's rule
//     (sform if sform_code != 0, else qform, else the base affine).
//   - Read, ReadPair, ReadFile, Write, WritePair and WriteFile move a
//     lossless Image: every header field, the extensions byte for byte and
//     the raw voxels of all volumes (4-D time series, 5-D vectors), for every
//     datatype and both byte orders.
//
// Readers work on any io.Reader; gzip is detected from the magic bytes, never
// from the file name. Every header field is validated before anything is
// allocated and the declared size is bounded by ReadOptions.MaxBytes, so a
// hostile or damaged file yields an error wrapping one of the sentinel
// errors (ErrNotNIfTI, ErrInvalidHeader, ErrTruncated, ...), never a panic
// or a huge allocation.
package nifti
