package vit

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error of the package wraps one of them (or an
// error of nn/checkpoint) so callers can branch with errors.Is.
var (
	// ErrConfig: a constructor argument is out of range (zero sizes, a
	// hidden size not divisible by the heads, an image size that is not a
	// multiple of the patch size, an unknown projection, a dropout rate
	// outside [0, 1), a model of more than MaxParameters parameters).
	ErrConfig = errors.New("vit: invalid configuration")
	// ErrInput: an input tensor does not have the shape the model was
	// built for (N, InChannels, ImgSize...).
	ErrInput = errors.New("vit: input does not fit the model")
	// ErrPooling: the pooling asked of a model it does not apply to (cls
	// pooling of a model without a cls token).
	ErrPooling = errors.New("vit: pooling not available for this model")
)

func wrapInput(shape []int, c Config) error {
	return fmt.Errorf("%w: got %v, want [N, %d, %d, %d, %d]", ErrInput, shape, c.InChannels, c.ImgSize[0], c.ImgSize[1], c.ImgSize[2])
}

func wrapTokens(shape []int, n, hidden int) error {
	return fmt.Errorf("%w: tokens %v, want [N, %d, %d]", ErrInput, shape, n, hidden)
}
