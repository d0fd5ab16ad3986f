package dicom

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/npy"
)

// pydicomFiles lists the DICOM test files shipped with Debian's
// python3-pydicom and python3-nibabel, or skips.
func pydicomFiles(t *testing.T) []string {
	var files []string
	for _, pat := range []string{
		"/usr/lib/python3/dist-packages/pydicom/data/test_files/*.dcm",
		"/usr/lib/python3/dist-packages/nibabel/nicom/tests/data/*.dcm",
	} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skip("pydicom/nibabel test files not installed (apt-get install python3-pydicom python3-nibabel)")
	}
	return files
}

// TestPydicomFiles parses every pydicom/nibabel test file without a panic
// and, where pydicom decodes the pixels itself, requires the same stored
// values.
func TestPydicomFiles(t *testing.T) {
	files := pydicomFiles(t)
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	dir := t.TempDir()
	cmd := exec.Command("/usr/bin/python3", append([]string{"testdata/pydicom_expect.py", dir}, files...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("pydicom expectations: %v\n%s", err, out)
	}
	var exp []struct {
		Path, TS, Npy, Error string
		Rows, Cols, Frames   int
		Spp                  int
	}
	b, err := os.ReadFile(filepath.Join(dir, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, e := range exp {
		name := filepath.Base(e.Path)
		ds, err := ReadFile(e.Path, nil)
		if err != nil {
			t.Logf("%s: parse: %v", name, err)
			continue
		}
		px, pi, err := ds.DecodeFrames(nil)
		switch ds.TransferSyntax {
		case JPEGLSLossless, JPEGLSNearLossless, JPEG2000Lossless, JPEG2000:
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), TransferSyntaxName(ds.TransferSyntax)) {
				t.Errorf("%s: %v does not name %s", name, err, TransferSyntaxName(ds.TransferSyntax))
			}
			continue
		}
		if err != nil {
			if e.Npy != "" && e.Spp == 1 && !errors.Is(err, ErrUnsupported) {
				t.Errorf("%s: pydicom decodes it, we fail: %v", name, err)
			} else {
				t.Logf("%s: %v", name, err)
			}
			continue
		}
		if e.Npy == "" {
			t.Logf("%s: we decode %d frames, pydicom could not (%s)", name, pi.Frames, e.Error)
			continue
		}
		a, err := npy.ReadFile(filepath.Join(dir, e.Npy))
		if err != nil {
			t.Fatal(err)
		}
		want, err := a.Float64()
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != len(px) {
			t.Errorf("%s: %d values, pydicom %d", name, len(px), len(want))
			continue
		}
		bad := 0
		for i := range px {
			if float64(px[i]) != want[i] {
				if bad < 3 {
					t.Errorf("%s: value %d = %v, pydicom %v", name, i, px[i], want[i])
				}
				bad++
			}
		}
		if bad == 0 {
			compared++
			t.Logf("%s (%s): %d values equal pydicom's", name, TransferSyntaxName(pi.TransferSyntax), len(px))
		}
	}
	if compared < 5 {
		t.Errorf("only %d files compared with pydicom", compared)
	}
}
