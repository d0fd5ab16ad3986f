package dicom

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
	"github.com/metasurv/metasurv/nifti"
	"github.com/metasurv/metasurv/volume"
)

// The reference cases compare this package with dcm2niix on DICOM exports
// built from the real scans in ../shared by testdata/make_reference.py
// (pydicom, re-encoded by dcmtk and gdcm). Building them takes about a
// minute on a loaded machine, so the test runs only when
// METASURV_DICOM_REF is set: to a folder already made by the script, or to
// "1" to build one in a temporary folder. METASURV_DICOM_REF_BIG=1 adds the
// full-size cases (--big).

type refCase struct {
	Series     int    `json:"series"`
	Localizers int    `json:"localizers"`
	Refused    bool   `json:"refused"`
	Missing    []int  `json:"missing"`
	SameAs     string `json:"same_as"`
	// Truth lists NIfTI files (in truth/) holding what the series must be,
	// for cases dcm2niix gets wrong (PeerWrong says how).
	Truth     []string `json:"truth"`
	PeerWrong string   `json:"peer_wrong"`
}

func referenceDir(t *testing.T) string {
	env := os.Getenv("METASURV_DICOM_REF")
	if env == "" {
		t.Skip("set METASURV_DICOM_REF=1 (or to a folder made by testdata/make_reference.py) to compare with dcm2niix")
	}
	for _, tool := range []string{"dcm2niix", "/usr/bin/python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	if env != "1" {
		return env
	}
	dir := filepath.Join(t.TempDir(), "ref")
	args := []string{"testdata/make_reference.py", fixture.Path(t, "testdata", "nifti"), dir}
	if os.Getenv("METASURV_DICOM_REF_BIG") != "" {
		args = append(args, "--big")
	}
	if out, err := exec.Command("/usr/bin/python3", args...).CombinedOutput(); err != nil {
		t.Fatalf("make_reference.py: %v\n%s", err, out)
	}
	return dir
}

// dcm2niixOut converts dir with dcm2niix and returns its volumes keyed by
// "seriesnumber/echonumber", with the JSON sidecars.
func dcm2niixOut(t *testing.T, dir string) map[string]*volume.Volume {
	out := t.TempDir()
	cmd := exec.Command("dcm2niix", "-z", "n", "-b", "y", "-f", "%s_%e_%j", "-o", out, dir)
	b, _ := cmd.CombinedOutput() // dcm2niix exits 1 on warnings it still converts
	m := map[string]*volume.Volume{}
	files, _ := filepath.Glob(filepath.Join(out, "*.nii"))
	for _, f := range files {
		var side struct {
			SeriesNumber int
			EchoNumber   int
		}
		jb, err := os.ReadFile(strings.TrimSuffix(f, ".nii") + ".json")
		if err == nil {
			_ = json.Unmarshal(jb, &side)
		}
		img, err := nifti.LoadImage(f, nil)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		v, err := img.Volume(0)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		key := fmt.Sprintf("%d/%d", side.SeriesNumber, side.EchoNumber)
		if _, dup := m[key]; dup {
			key += "/" + filepath.Base(f)
		}
		m[key] = v
	}
	if len(m) == 0 {
		t.Logf("dcm2niix wrote nothing for %s:\n%s", dir, b)
	}
	return m
}

// compareWorld requires two volumes to be the same image in world space:
// after reorienting both to RAS (an exact permutation), the same grid,
// affines within tol mm and voxel values within vtol (relative).
func compareWorld(a, b *volume.Volume, tol, vtol float64) error {
	ca, err := a.Canonical()
	if err != nil {
		return err
	}
	cb, err := b.Canonical()
	if err != nil {
		return err
	}
	if ca.Dims != cb.Dims {
		return fmt.Errorf("dims %v vs %v", ca.Dims, cb.Dims)
	}
	for r := 0; r < 3; r++ {
		for c := 0; c < 4; c++ {
			if d := math.Abs(ca.Affine[r][c] - cb.Affine[r][c]); d > tol {
				return fmt.Errorf("affine[%d][%d] %.6f vs %.6f", r, c, ca.Affine[r][c], cb.Affine[r][c])
			}
		}
	}
	worst := 0.0
	for i := range ca.Data {
		x, y := float64(ca.Data[i]), float64(cb.Data[i])
		d := math.Abs(x-y) / math.Max(1, math.Abs(y))
		if d > worst {
			worst = d
		}
	}
	if worst > vtol {
		return fmt.Errorf("values differ by %.3g (relative)", worst)
	}
	return nil
}

func TestReferenceCases(t *testing.T) {
	dir := referenceDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]refCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	ctx := context.Background()
	for _, name := range names {
		c := cases[name]
		t.Run(name, func(t *testing.T) {
			cdir := filepath.Join(dir, name)
			res, err := Scan(ctx, cdir, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range res.Skipped {
				t.Errorf("skipped %s: %s", s.Path, s.Reason)
			}
			if c.Refused {
				if len(res.Series) != 1 || res.Series[0].Err == nil || !errors.Is(res.Series[0].Err, ErrGeometry) {
					t.Fatalf("want one refused series, got %d (err %v)", len(res.Series), res.Series[0].Err)
				}
				msg := res.Series[0].Err.Error()
				if !strings.Contains(msg, "missing slice") {
					t.Errorf("refusal does not name the missing slice: %s", msg)
				}
				t.Logf("refused: %s", msg)
				for k, v := range dcm2niixOut(t, cdir) {
					t.Logf("dcm2niix instead wrote %s with dims %v and uniform spacing %.4g mm", k, v.Dims, v.Spacing()[2])
				}
				return
			}
			if len(res.Series) != c.Series {
				for _, s := range res.Series {
					t.Logf("series %s dims %v err %v", s.Name, s.Dims, s.Err)
				}
				t.Fatalf("%d series, want %d", len(res.Series), c.Series)
			}
			refDir := cdir
			if c.SameAs != "" {
				// Re-encodings are compared with dcm2niix on the native
				// files (it cannot read some encodings, e.g. deflate).
				refDir = filepath.Join(dir, c.SameAs)
			}
			ref := dcm2niixOut(t, refDir)
			if len(c.Truth) > 0 {
				var peer []string
				for k, v := range ref {
					peer = append(peer, fmt.Sprintf("%s %v", k, v.Dims))
				}
				t.Logf("dcm2niix is wrong here (%s): it wrote %s; comparing with the truth", c.PeerWrong, strings.Join(peer, ", "))
				ref = map[string]*volume.Volume{}
				for i, f := range c.Truth {
					v, err := nifti.Load(filepath.Join(dir, "truth", f), nil)
					if err != nil {
						t.Fatal(err)
					}
					ref[fmt.Sprintf("%d/%d/%s", res.Series[0].Meta.SeriesNumber, i+1, f)] = v
				}
			}
			matched := 0
			for _, s := range res.Series {
				v, err := s.Volume(ctx)
				if err != nil {
					t.Fatalf("%s: %v", s.Name, err)
				}
				// dcm2niix names echoes only in multi-echo series.
				var want *volume.Volume
				for key, rv := range ref {
					if strings.HasPrefix(key, fmt.Sprintf("%d/", s.Meta.SeriesNumber)) &&
						(s.Meta.EchoNumber <= 1 || strings.HasPrefix(key, fmt.Sprintf("%d/%d", s.Meta.SeriesNumber, s.Meta.EchoNumber))) &&
						rv.Dims[0]*rv.Dims[1]*rv.Dims[2] == v.Dims[0]*v.Dims[1]*v.Dims[2] {
						if err := compareWorld(v, rv, 1e-3, 1e-6); err == nil {
							want = rv
							break
						}
					}
				}
				if s.Localizer {
					t.Logf("%s: localizer %v (dcm2niix match: %v)", s.Name, v.Dims, want != nil)
					continue
				}
				if want == nil {
					var msgs []string
					for key, rv := range ref {
						msgs = append(msgs, fmt.Sprintf("%s %v: %v", key, rv.Dims, compareWorld(v, rv, 1e-3, 1e-6)))
					}
					t.Errorf("%s (%v, %s): no dcm2niix volume equal in world space: %s", s.Name, v.Dims, s.Guess.Label, strings.Join(msgs, "; "))
					continue
				}
				matched++
				peer := "dcm2niix"
				if len(c.Truth) > 0 {
					peer = "the truth"
				}
				t.Logf("%s: %v %s equals %s in world space (guess %s: %s)", s.Name, v.Dims, v.AxCodes(), peer, s.Guess.Label, s.Guess.Reason)
			}
			if matched != c.Series-c.Localizers {
				t.Errorf("%d series matched dcm2niix, want %d", matched, c.Series-c.Localizers)
			}
		})
	}
}

// TestRealFilesVsDcm2niix converts the real DICOM files shipped by Debian
// (nibabel's Siemens DTI mosaics, pydicom's MR and CT slices), one folder
// per file, with dcm2niix and with this package, and requires the same
// image in world space with the same values.
func TestRealFilesVsDcm2niix(t *testing.T) {
	if _, err := exec.LookPath("dcm2niix"); err != nil {
		t.Skip("dcm2niix not installed")
	}
	files := []string{
		"/usr/lib/python3/dist-packages/nibabel/nicom/tests/data/0.dcm",
		"/usr/lib/python3/dist-packages/nibabel/nicom/tests/data/1.dcm",
		"/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small.dcm",
		"/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm",
		"/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small_bigendian.dcm",
		"/usr/lib/python3/dist-packages/nibabel/nicom/tests/data/decimal_rescale.dcm",
		// gzipped in the package: a Philips Enhanced MR multi-frame MPRAGE
		// and two Siemens DTI mosaics.
		"/usr/lib/python3/dist-packages/nibabel/nicom/tests/data/philips_mprage.dcm.gz",
		"/usr/lib/python3/dist-packages/nibabel/nicom/tests/data/siemens_dwi_0.dcm.gz",
		"/usr/lib/python3/dist-packages/nibabel/nicom/tests/data/siemens_dwi_1000.dcm.gz",
	}
	ctx := context.Background()
	compared := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if strings.HasSuffix(f, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "IM0001"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Scan(ctx, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Series) != 1 {
			t.Errorf("%s: %d series (skipped %v)", f, len(res.Series), res.Skipped)
			continue
		}
		v, err := res.Series[0].Volume(ctx)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		ref := dcm2niixOut(t, dir)
		if len(ref) != 1 {
			t.Logf("%s: dcm2niix wrote %d volumes; not compared", f, len(ref))
			continue
		}
		for _, rv := range ref {
			if len(res.Series[0].Warnings) > 0 && strings.Contains(strings.Join(res.Series[0].Warnings, " "), "not a whole number of tiles") {
				// nibabel's 0.dcm/1.dcm are 256×256 mosaics of 48 tiles of
				// 36×36 (7 tiles use 252 of the 256 columns): nibabel
				// refuses them, dcm2niix reads tiles with a 252-column
				// stride. Only the geometry and the first tile row can agree.
				if err := compareWorld(v, rv, 1e-3, math.Inf(1)); err != nil {
					t.Errorf("%s: geometry differs from dcm2niix: %v", filepath.Base(f), err)
				} else {
					compared++
					t.Logf("%s: mosaic %v %s placed as dcm2niix places it (values not compared: %s)", filepath.Base(f), v.Dims, v.AxCodes(), res.Series[0].Warnings)
				}
				continue
			}
			if err := compareWorld(v, rv, 1e-3, 1e-6); err != nil {
				t.Errorf("%s: differs from dcm2niix: %v", filepath.Base(f), err)
			} else {
				compared++
				t.Logf("%s: %v %s equals dcm2niix in world space and values", filepath.Base(f), v.Dims, v.AxCodes())
			}
		}
	}
	if compared == 0 {
		t.Skip("no real DICOM files installed")
	}
}
