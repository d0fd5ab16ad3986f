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
	"os"

	"github.com/metasurv/metasurv/nifti"
)

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
	enc := json.NewEncoder(os.Stdout)
	status := 0
	for _, path := range os.Args[1:] {
		r := report{File: path}
		img, err := nifti.ReadFile(path, nil)
		if err == nil {
			r.Info, err = nifti.Inspect(img)
		}
		if err != nil {
			r.Error, status = err.Error(), 1
		}
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(status)
}
