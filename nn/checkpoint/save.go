package checkpoint

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/metasurv/metasurv/internal/atomicfile"
	"github.com/metasurv/metasurv/nn"
)

// SaveOptions configure Save and Write. The zero value saves by the file
// name's extension without metadata.
type SaveOptions struct {
	// Format is FormatTorchZip (torch.save's zip archive, loadable with
	// torch.load(weights_only=True)) or FormatSafetensors. FormatUnknown
	// (zero) means: Save picks it from the extension (.safetensors →
	// safetensors; .pt, .pth, .bin, .ckpt → torch zip); Write requires it.
	Format Format
	// Meta is stored as safetensors "__metadata__" (strings only); a torch
	// file stores the bare state dict and Meta must be empty.
	Meta map[string]string
}

// Save writes tensors to path atomically: everything is validated before
// the file is touched, the bytes go to a temporary file in the same
// directory that is fsynced and renamed over path, so a failed call leaves
// an existing file as it was and creates nothing.
func Save(path string, tensors map[string]*nn.Tensor, o SaveOptions) error {
	if o.Format == FormatUnknown {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".safetensors":
			o.Format = FormatSafetensors
		case ".pt", ".pth", ".bin", ".ckpt":
			o.Format = FormatTorchZip
		default:
			return fmt.Errorf("%w: cannot tell the format of %q from its extension (want .safetensors, .pt, .pth, .bin or .ckpt, or set SaveOptions.Format)", ErrInput, path)
		}
	}
	enc, err := encoder(tensors, o)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, enc); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// Write writes tensors to w in o.Format (which must be set), validating
// them all before the first byte is written.
func Write(w io.Writer, tensors map[string]*nn.Tensor, o SaveOptions) error {
	enc, err := encoder(tensors, o)
	if err != nil {
		return err
	}
	return enc(w)
}

// encoder validates the tensors and options and returns the function that
// writes them.
func encoder(tensors map[string]*nn.Tensor, o SaveOptions) (func(io.Writer) error, error) {
	names, err := checkTensors(tensors)
	if err != nil {
		return nil, err
	}
	switch o.Format {
	case FormatSafetensors:
		hdr, err := safetensorsHeader(names, tensors, o.Meta)
		if err != nil {
			return nil, err
		}
		return func(w io.Writer) error { return writeSafetensors(w, names, tensors, hdr) }, nil
	case FormatTorchZip:
		if len(o.Meta) > 0 {
			return nil, fmt.Errorf("%w: a torch state-dict file has no place for metadata (use safetensors)", ErrInput)
		}
		return func(w io.Writer) error { return writePyTorch(w, names, tensors) }, nil
	}
	return nil, fmt.Errorf("%w: cannot write format %v (want FormatTorchZip or FormatSafetensors)", ErrInput, o.Format)
}

// checkTensors validates a state dict for writing and returns its names in
// sorted order.
func checkTensors(tensors map[string]*nn.Tensor) ([]string, error) {
	if len(tensors) == 0 {
		return nil, fmt.Errorf("%w: no tensors to write", ErrInput)
	}
	names := make([]string, 0, len(tensors))
	for k, t := range tensors {
		switch {
		case k == "" || k == "__metadata__":
			return nil, fmt.Errorf("%w: a tensor cannot be named %q", ErrInput, k)
		case t == nil:
			return nil, fmt.Errorf("%w: tensor %q is nil", ErrInput, k)
		}
		for _, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("%w: tensor %q has shape %v", ErrInput, k, t.Shape)
			}
		}
		if n := shapeNumel(t.Shape); n != int64(t.Numel()) {
			return nil, fmt.Errorf("%w: tensor %q has %d values for shape %v", ErrInput, k, t.Numel(), t.Shape)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	return names, nil
}
