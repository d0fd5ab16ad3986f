package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metasurv/metasurv/internal/fixture"
)

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.json")
	if err := WriteFile(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, p); got != "one" {
		t.Fatalf("got %q", got)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, p); got != "two" {
		t.Fatalf("got %q", got)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the old file's 0600", fi.Mode().Perm())
	}
	if names := fixture.DirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only a.json", names)
	}
}

func TestFailedWriteKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.nii")
	if err := os.WriteFile(p, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, func(w io.Writer) error {
		io.WriteString(w, strings.Repeat("x", 3<<20)) // past the buffer
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if got := readString(t, p); got != "precious" {
		t.Fatalf("old file now %q", got)
	}
	if names := fixture.DirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only a.nii", names)
	}
}

func TestDirectoryTargetUntouched(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.nii")
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("x")); err == nil {
		t.Fatal("writing over a directory succeeded")
	}
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		t.Fatalf("directory gone: %v", err)
	}
	if names := fixture.DirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v", names)
	}
}

func TestGroupAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	h, i := filepath.Join(dir, "a.hdr"), filepath.Join(dir, "a.img")
	if err := os.WriteFile(i, []byte("old img"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteGroup([]string{h, i}, func(ws []io.Writer) error {
		io.WriteString(ws[0], "hdr")
		return errors.New("image failed")
	})
	if err == nil {
		t.Fatal("no error")
	}
	if _, err := os.Stat(h); !os.IsNotExist(err) {
		t.Errorf(".hdr exists after a failed write: %v", err)
	}
	if got := readString(t, i); got != "old img" {
		t.Errorf(".img now %q", got)
	}
	if err := WriteGroup([]string{h, i}, func(ws []io.Writer) error {
		io.WriteString(ws[0], "H")
		_, err := io.WriteString(ws[1], "I")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if readString(t, h) != "H" || readString(t, i) != "I" {
		t.Error("pair not written")
	}
	if err := WriteGroup([]string{h, h}, func([]io.Writer) error { return nil }); err == nil {
		t.Error("same path twice accepted")
	}
}

func TestMissingDirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "no", "such", "x")
	if err := WriteFile(p, nil); err == nil {
		t.Fatal("no error for a missing directory")
	}
}
