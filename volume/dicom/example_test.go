package dicom_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/metasurv/metasurv/volume/dicom"
)

// Example scans a folder (here holding one slice) and decodes its series.
func Example() {
	dir, _ := os.MkdirTemp("", "dicom-example")
	defer os.RemoveAll(dir)
	b, _ := os.ReadFile("testdata/mr_small.dcm")
	_ = os.WriteFile(filepath.Join(dir, "IM0001"), b, 0o644)

	res, err := dicom.Scan(context.Background(), dir, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range res.Series {
		v, err := s.Volume(context.Background())
		if err != nil {
			fmt.Println(s.Name, err)
			continue
		}
		fmt.Println(s.Name, v.Dims, s.Meta.Modality, fmt.Sprintf("%.4g", v.Spacing()[0]))
	}
	// Output:
	// 001_series [64 64 1] MR 0.3125
}

// ExampleReadFile reads one file and its pixels.
func ExampleReadFile() {
	ds, err := dicom.ReadFile("testdata/mr_small_sv1.dcm", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	px, info, err := ds.DecodeFrames(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(dicom.TransferSyntaxName(ds.TransferSyntax))
	fmt.Println(info.Rows, info.Columns, len(px), ds.String(dicom.TagModality))
	// Output:
	// JPEG Lossless, First-Order Prediction (Process 14, SV1)
	// 64 64 4096 MR
}
