package optim

import "errors"

// ErrInput is wrapped by every error of this package: hyper-parameters or
// parameter lists that an optimizer cannot use (errors.Is(err, ErrInput)).
var ErrInput = errors.New("optim: invalid input")
