package cnn

import "errors"

// Sentinel errors; every error of the package wraps one of them (or an nn
// or checkpoint error), so callers can branch with errors.Is.
var (
	// ErrUnknownModel: a name that New does not know.
	ErrUnknownModel = errors.New("cnn: unknown model")
	// ErrConfig: a configuration value out of range or not applicable to
	// the chosen model, or a model of more than MaxParameters values.
	ErrConfig = errors.New("cnn: bad configuration")
	// ErrInput: an input tensor whose shape does not fit the model.
	ErrInput = errors.New("cnn: bad input")
	// ErrCheckpoint: a checkpoint that does not fit the model (missing,
	// unexpected or mis-shaped tensors; the error names every one).
	ErrCheckpoint = errors.New("cnn: checkpoint does not fit the model")
)
