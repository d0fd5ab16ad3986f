// Package volume is the 3-D image type every metasurv package passes
// around, with the spatial operations of the preprocessing pipeline done
// exactly as the reference tools do them.
//
// A Volume is a grid of float32 voxels in NIfTI order (i fastest) with an
// Affine mapping voxel indices to RAS+ world millimetres. A Stack holds
// the four MRI sequences of one patient on one grid in the C, D, H, W
// layout a MONAI model expects.
//
// # Orientation
//
// AxCodes gives the axis codes of an affine ("RAS", "LPS", "LIA", …) with
// nibabel's io_orientation algorithm: the closest orthogonal matrix of the
// normalised 3×3 part (SVD), voxel axes matched to world axes greedily, the
// strongest first, so oblique scans get the codes of their nearest
// axis-aligned orientation. (nibabel releases before the fix of its issue
// #1449 matched axes in index order; both agree on every scan of the test
// data.) Volume.Reorient and Volume.Canonical permute and flip axes to any
// codes, copying voxels exactly, with the affine updated as nibabel's
// as_reoriented does, so every voxel keeps its world position.
//
// # Resampling
//
// Volume.Resize reproduces MONAI Resize (torch interpolate): ResizeArea
// (adaptive average pooling, MONAI's default), ResizeTrilinear
// (align_corners=False) and ResizeNearest, with torch's float32 index and
// weight arithmetic: area and nearest equal MONAI's output bit for bit,
// trilinear to a few float32 ulps (bit for bit on the ch2 fixture).
// The affine follows MONAI's MetaTensor rule (ResizeAffine): the new grid
// covers the same world box.
//
// Volume.ResampleToSpacing reproduces MONAI Spacing: the same output shape
// and affine (zoom_affine, compute_shape_offset) and trilinear sampling
// with border padding. Resample and ResampleInto sample any volume through
// a voxel→voxel or world transform with a Sampler (Interp: trilinear,
// nearest or cubic B-spline; constant fill or border clamp), row by row on
// all cores; registration uses them to apply a transform once found.
//
// Interp is the library's one interpolation vocabulary and these kernels
// its one implementation: a Field evaluates a volume, with derivatives, at
// arbitrary points (what a registration metric samples), with the same
// arithmetic as a resampling row. Affine is the one 4×4 world transform:
// voxel→world maps, registration results (Compose chains them so an image
// is interpolated once, Inverse, Mul, Apply).
//
// # Masks, morphology and statistics
//
// A Mask is the one binary image type: brain masks, labels, the voxels a
// statistic is taken over. Masks come from thresholds or nonzero voxels
// and drive ApplyMask, bounding boxes and cropping (Extract, CropOrPad,
// CropToBox). Erode, Dilate, Open and Close use a ball (exact Euclidean
// distance transform, SquaredDistance: cost independent of the radius,
// anisotropic spacing) or a box (separable); FillHoles, LargestComponent
// (Conn6 or Conn26) and Dice complete the morphology a brain mask needs.
// Describe and Percentiles summarise the voxels of a mask in float64,
// percentiles with numpy's default linear rule, for intensity
// normalisation.
//
// # Errors
//
// Every error wraps one of ErrShape (data and dims disagree), ErrInvalid
// (an argument outside its domain), ErrSingular (an affine that cannot be
// inverted), ErrOrientation or ErrEmpty; test with errors.Is. The enums
// (Interp, Boundary, ResizeMode) implement encoding.TextMarshaler and
// TextUnmarshaler, so flags and configuration files name them.
package volume
