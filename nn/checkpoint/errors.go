package checkpoint

import (
	"errors"
	"fmt"
)

// Errors a caller can branch on with errors.Is. Reading a file that is not
// a checkpoint, or a corrupt one, gives ErrFormat (ErrPickle, for the
// pickle stream of a .pt file, and ErrChecksum, for a damaged zip entry,
// also match ErrFormat); a file that would need more memory than
// Options.MaxBytes gives ErrTooLarge; a state dict that cannot be written
// gives ErrInput. I/O errors are wrapped as they
// come (*fs.PathError, ...).
var (
	ErrFormat   = errors.New("checkpoint: not a valid checkpoint")
	ErrTooLarge = errors.New("checkpoint: over the memory budget")
	ErrInput    = errors.New("checkpoint: invalid state dict")
	// ErrPickle is wrapped by every error about the pickle stream itself
	// (malformed, or naming a global that a state dict does not need).
	ErrPickle = fmt.Errorf("%w: pickle", ErrFormat)
	// ErrChecksum is wrapped when a zip entry that was read (a tensor
	// storage, data.pkl) does not have the CRC-32 the archive records:
	// the file was damaged after it was written. It also matches
	// ErrFormat.
	ErrChecksum = fmt.Errorf("%w: checksum mismatch", ErrFormat)
)
