// Command niftiinfo prints, for each NIfTI file named on the command line,
// one line of JSON with what nibabel would report about it: shape, datatype,
// voxel sizes, best affine, qform/sform codes and matrices, orientation
// codes, scaling, units, description and the sum, minimum and maximum of the
// scaled voxel values — a scriptable nib-ls.
//
// Usage:
//
//	go run ./examples/niftiinfo FILE...
//
// .nii, .nii.gz and .hdr/.img pairs (named by either file) are accepted,
// NIfTI-1 or NIfTI-2. A file that cannot be read prints {"file": ...,
// "error": ...}; the exit status is 1 if any file failed.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/metasurv/metasurv/nifti"
)

// report is one output line.
type report struct {
	File  string `json:"file"`
	Error string `json:"error,omitempty"`
	*nifti.Info
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: niftiinfo FILE...")
		os.Exit(2)
	}
	ok, err := run(os.Stdout, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if !ok || err != nil {
		os.Exit(1)
	}
}

// run writes one JSON line per file to w; ok is false if a file could not
// be read (its line then carries the error).
func run(w io.Writer, paths []string) (ok bool, err error) {
	enc := json.NewEncoder(w)
	ok = true
	for _, path := range paths {
		r := report{File: path}
		img, err := nifti.LoadImage(path, nil)
		if err == nil {
			r.Info, err = nifti.Inspect(img)
		}
		if err != nil {
			r.Error, ok = err.Error(), false
		}
		if err := enc.Encode(r); err != nil {
			return false, err
		}
	}
	return ok, nil
}
