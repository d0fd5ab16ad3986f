// Command modelcheck proves that the library's models compute what MONAI
// computes: for every fixture of a manifest (../shared/golden/models/
// manifest.json) it builds the model from its MONAI constructor string
// (e.g. "DenseNet(spatial_dims=3, in_channels=4, out_channels=3,
// init_features=16)"), loads the fixture's PyTorch weights strictly, runs
// the fixture's input and prints one JSON line per fixture with the
// maximum absolute error of each output against MONAI's:
//
//	modelcheck -manifest ../shared/golden/models/manifest.json -dir ../shared/golden/models
//	{"fixture":"densenet_small","monai":"DenseNet(...)","outputs":{"logits":{"max_abs_err":1.2e-07,"tol":0.000155,"ok":true}},"ok":true}
//
// Manifests of hashed fixtures (cnn/testdata/monai/manifest.json and
// train/manifest.json, internal/modelspec/testdata/vit/manifest.json) are
// recognised and checked the same way: the weights, input and output
// gradient seed are recomputed from the hash their generator used.
//
// The exit status is 1 when any output exceeds the manifest's tolerance or
// a fixture cannot be checked (an unknown constructor or argument names
// itself in the line's "error"), 2 for bad flags.
//
// Constructors are registered in internal/modelspec (the CNNs there, the
// vision transformers beside them); -list prints the known names.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/metasurv/metasurv/internal/modelspec"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("modelcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	manifest := fs.String("manifest", "", "manifest.json of the fixtures (required)")
	dir := fs.String("dir", "", "folder of the fixtures' .pt and .npy files (default: the manifest's folder)")
	only := fs.String("only", "", "comma-separated fixture names to check (default: all)")
	list := fs.Bool("list", false, "print the known constructor names and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *list {
		fmt.Fprintln(stdout, strings.Join(modelspec.Constructors(), "\n"))
		return 0
	}
	if *manifest == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "modelcheck: -manifest is required and no positional arguments are taken")
		fs.Usage()
		return 2
	}
	if *dir == "" {
		*dir = filepath.Dir(*manifest)
	}
	var names []string
	var check func(name string) (modelspec.Result, error)
	if hm, err := modelspec.ReadHashManifest(*manifest); err == nil && hm.IsHashed() {
		for n := range hm.Fixtures {
			names = append(names, n)
		}
		check = func(name string) (modelspec.Result, error) { return modelspec.CheckHash(hm, *dir, name) }
	} else {
		m, err := modelspec.ReadManifest(*manifest)
		if err != nil {
			fmt.Fprintln(stderr, "modelcheck:", err)
			return 2
		}
		for n := range m.Fixtures {
			names = append(names, n)
		}
		check = func(name string) (modelspec.Result, error) { return modelspec.CheckFixture(m, *dir, name) }
	}
	sort.Strings(names)
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	var results []modelspec.Result
	for _, name := range names {
		r, err := check(strings.TrimSpace(name))
		if err != nil {
			r.Fixture, r.OK, r.Error = strings.TrimSpace(name), false, err.Error()
		}
		results = append(results, r)
	}
	enc := json.NewEncoder(stdout)
	status := 0
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(stderr, "modelcheck:", err)
			return 1
		}
		if !r.OK {
			status = 1
		}
	}
	if len(results) == 0 {
		fmt.Fprintln(stderr, "modelcheck: the manifest lists no fixtures")
		return 1
	}
	return status
}
