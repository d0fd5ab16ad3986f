// Package atomicfile writes files so that a reader, or the user after a
// crash, sees either the old content or the complete new content, never a
// truncated or half-written file, and so that a failed write leaves
// nothing behind: every writer of the library goes through it.
//
// The content is written to a temporary file in the target's directory
// (so that the final rename stays within one file system), flushed,
// fsynced and closed, then renamed over the target, and the directory is
// fsynced so that the rename itself survives a power loss. When anything
// fails before the rename, the temporary files are removed and the targets
// are untouched: a call never removes or truncates a file it did not
// create.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// bufSize is the size of the buffer in front of each temporary file.
const bufSize = 1 << 20

// defaultPerm is the mode of a new file (that of os.Create under the
// usual umask 022); an existing target keeps its own mode.
const defaultPerm os.FileMode = 0o644

// Write creates or replaces path with what write writes to w. The target
// is replaced only when write returns nil and the data reached the disk;
// otherwise the error is returned and path is left as it was.
func Write(path string, write func(w io.Writer) error) error {
	return WriteGroup([]string{path}, func(ws []io.Writer) error { return write(ws[0]) })
}

// WriteFile creates or replaces path with data, atomically (see Write).
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteGroup writes several files that belong together (a NIfTI .hdr/.img
// pair): write receives one writer per path, in order. Every file is
// written, flushed and fsynced to its temporary name before the first
// rename, so a failure of write or of the disk leaves every target as it
// was. The renames themselves are not one atomic step: a crash between
// them can leave some targets new and others old.
func WriteGroup(paths []string, write func(ws []io.Writer) error) (err error) {
	if len(paths) == 0 {
		return errors.New("atomicfile: no path")
	}
	for i, p := range paths {
		if p == "" {
			return errors.New("atomicfile: empty path")
		}
		for _, q := range paths[:i] {
			if filepath.Clean(q) == filepath.Clean(p) {
				return fmt.Errorf("atomicfile: path %q given twice", p)
			}
		}
		if fi, err := os.Stat(p); err == nil && !fi.Mode().IsRegular() {
			return fmt.Errorf("atomicfile: %s exists and is not a regular file", p)
		}
	}
	tmps := make([]*os.File, 0, len(paths))
	defer func() {
		if err != nil {
			for _, f := range tmps {
				f.Close()
				os.Remove(f.Name())
			}
		}
	}()
	bufs := make([]*bufio.Writer, len(paths))
	ws := make([]io.Writer, len(paths))
	for i, p := range paths {
		f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp*")
		if err != nil {
			return fmt.Errorf("atomicfile: %w", err)
		}
		tmps = append(tmps, f)
		bufs[i] = bufio.NewWriterSize(f, bufSize)
		ws[i] = bufs[i]
	}
	if err := write(ws); err != nil {
		return err
	}
	for i, f := range tmps {
		if err := bufs[i].Flush(); err != nil {
			return fmt.Errorf("atomicfile: %s: %w", paths[i], err)
		}
		perm := defaultPerm
		if fi, err := os.Stat(paths[i]); err == nil {
			perm = fi.Mode().Perm()
		}
		if err := f.Chmod(perm); err != nil && runtime.GOOS != "windows" {
			return fmt.Errorf("atomicfile: %s: %w", paths[i], err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("atomicfile: %s: %w", paths[i], err)
		}
	}
	for i, f := range tmps {
		if err := f.Close(); err != nil {
			return fmt.Errorf("atomicfile: %s: %w", paths[i], err)
		}
	}
	dirs := map[string]bool{}
	for i, f := range tmps {
		if err := os.Rename(f.Name(), paths[i]); err != nil {
			// Earlier renames have happened; the remaining temporaries are
			// removed, the remaining targets untouched.
			for _, g := range tmps[i:] {
				os.Remove(g.Name())
			}
			tmps = nil
			return fmt.Errorf("atomicfile: %w", err)
		}
		dirs[filepath.Dir(paths[i])] = true
	}
	tmps = nil
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return fmt.Errorf("atomicfile: %s: %w", d, err)
		}
	}
	return nil
}

// syncDir fsyncs a directory so that a rename into it is durable.
// Windows cannot open directories for sync; there it is a no-op.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
