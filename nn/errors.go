package nn

import "errors"

// Errors a caller can branch on with errors.Is; every error of this package
// wraps one of them (or is a *LoadError, which wraps ErrStateDict), with a
// message naming what was wrong and what was expected.
var (
	// ErrShape: operands whose shapes do not fit an operation (Graph.Err
	// after a failed operation, FromData, View, CopyFrom).
	ErrShape = errors.New("nn: shape mismatch")
	// ErrInput: an argument outside its domain (a dropout rate of 2, a
	// Backward without recorded history, a BatchNorm without running
	// statistics to fold).
	ErrInput = errors.New("nn: invalid input")
	// ErrStateDict: a state dict that does not fit the module
	// (LoadStateDict); errors.As gives the *LoadError listing every
	// missing, unexpected and mis-shaped key.
	ErrStateDict = errors.New("nn: state dict does not fit the module")
	// ErrBF16: a weight held in bfloat16 only (ConvertBF16) where float32
	// values or gradients are needed (a recording graph, a float32
	// operation on the weight itself, Tensor.View, FoldBatchNorm).
	ErrBF16 = errors.New("nn: weight held in bfloat16 only")
)
