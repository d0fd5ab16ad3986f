// Package nifti reads and writes NIfTI-1 and NIfTI-2 images — .nii,
// .nii.gz, .hdr/.img pairs (each optionally gzipped) — and reads them exactly
// as nibabel 5 does: same shape, voxel values, scaling and affine.
//
// # Two levels of API
//
// Load and Save move a 3-D float32 volume.Volume (world RAS+ millimetres,
// voxels in NIfTI order) to and from a file. This is what the preprocessing
// pipeline uses.
//
// Read, ReadPair, LoadImage, Write, WritePair and SaveImage move a lossless
// Image: every header field (Header, version independent), the extensions
// byte for byte, and the raw voxels of all volumes (3-D, 4-D time series,
// 5-D vector fields ...). Image.Volume(t), Image.Volumes, Image.Float32 and
// Image.Float64 turn the stored values into real numbers; Inspect
// summarises an image as nibabel reports it (see examples/niftiinfo).
//
// # What is read, and how
//
//   - Version and byte order come from sizeof_hdr (348 or 540, either
//     endianness); the magic must be "n+1"/"ni1" or "n+2"/"ni2". Image.Data
//     is always little endian; Header.ByteOrder remembers the file's order
//     and the writers restore it.
//   - Datatypes: uint8, int8, int16, uint16, int32, uint32, int64, uint64,
//     float32 and float64 convert to real values. complex64, complex128,
//     rgb24 and rgba32 are read and written losslessly but kept raw:
//     asking for their real values is an ErrDatatype error rather than a
//     silent choice of magnitude, real part or luminance. binary, float128
//     and complex256 are rejected with ErrDatatype.
//   - Scaling follows nibabel: value = stored·scl_slope + scl_inter computed
//     in float64, unless the slope is 0 or not finite (then no scaling);
//     a valid slope with a non-finite intercept is an error.
//   - The affine is nibabel's best affine: the sform if sform_code != 0,
//     else the qform if qform_code != 0 (quaternion with w = sqrt(1-b²-c²-d²),
//     qfac from pixdim[0]), else the base affine (voxel sizes, x flipped,
//     origin at the grid centre). As nibabel does on load, qfac values other
//     than ±1 are read as 1 and zero or negative voxel sizes pixdim[1..3]
//     as 1 or their absolute value.
//   - gzip is detected from the content (0x1f 0x8b), never from the file
//     name. Compressed files are decoded in memory by a flat-buffer DEFLATE
//     decoder that also splits large streams between two CPUs (speculative
//     decoding from a block boundary found in the middle of the stream); the
//     gzip CRC-32 and size are always checked.
//
// # Writing
//
// Write and SaveImage write the Image's version and byte order; vox_offset
// is recomputed from the extensions. Save/FromVolume write NIfTI-1 float32
// with the affine stored both as sform and as qform (codes 2, aligned
// anatomy; the qform is the nearest rigid transform when the affine has
// shears, computed like nibabel's set_qform), voxel sizes from the affine and
// units millimetres. .gz names are compressed at level 1 (nibabel's
// default).
//
// # Safety
//
// Every header field is validated before anything is allocated: dimensions
// (1..7 of them, each >= 1, product without overflow), datatype and bitpix,
// vox_offset, scaling. The declared size is bounded by ReadOptions.MaxBytes
// (2 GiB by default), which also bounds gzip decompression, and buffers grow
// only as data actually arrive. Damaged or hostile input returns an error
// wrapping one of ErrNotNIfTI, ErrInvalidHeader, ErrDatatype, ErrExtension,
// ErrTruncated, ErrCompressed or ErrTooLarge, with a message naming the field
// and the expected value — never a panic. FuzzReadHeader, FuzzRead and
// FuzzGunzip exercise this.
package nifti
