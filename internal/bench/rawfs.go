package bench

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/berthio/berth/driver"
)

// RawFS is the raw mode of nasfs: the same bytes to the same directory,
// through plain os calls, doing the least that the contract's atomicity
// and durability cost on a file system and nothing more. PutContent writes
// a temporary file, fsyncs it, renames it into place and fsyncs the
// directory; Move renames and fsyncs the directory; uploads are written in
// place at their path and appended to on resume, and Close and Commit
// fsync. Nothing fences, no state is kept for other processes, and an
// upload a crash cut is torn: it is the yardstick the bench measures
// nasfs's multi-replica protocol against, never a driver to store layers
// with. (distribution's filesystem driver, through a
// distribution://filesystem URL, is the naive writer that skips even the
// renames and directory fsyncs.)
var RawFS = driver.Factory{
	Name:    "rawfs",
	Summary: "bench yardstick: plain files, atomic and durable replaces, no fencing, no upload state",
	OpenURL: func(_ context.Context, u *url.URL) (*driver.Store, error) {
		if u.Path == "" {
			return nil, driver.ConfigError("rawfs", "rawfs:///dir needs a directory")
		}
		if fi, err := os.Stat(u.Path); err != nil || !fi.IsDir() {
			return nil, driver.ConfigError("rawfs", "root %q is not a directory", u.Path)
		}
		return driver.NewStore(&rawFS{root: u.Path}), nil
	},
	FromParameters: func(context.Context, map[string]any) (*driver.Store, error) {
		return nil, driver.ConfigError("rawfs", "rawfs opens from a URL only")
	},
}

type rawFS struct{ root string }

func (r *rawFS) Name() string { return "rawfs" }

func (r *rawFS) Capabilities() driver.Capabilities {
	return driver.Capabilities{Listing: driver.Strong, Fencing: driver.FencingBestEffort, SharedAcrossProcesses: true}
}

func (r *rawFS) full(p string) string { return filepath.Join(r.root, filepath.FromSlash(p)) }

func (r *rawFS) ClassifyError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return driver.ErrNotFound
	case errors.Is(err, fs.ErrPermission):
		return driver.ErrPermission
	}
	return nil
}

func (r *rawFS) GetContent(_ context.Context, p string) ([]byte, error) {
	return os.ReadFile(r.full(p))
}

func (r *rawFS) PutContent(_ context.Context, p string, content []byte) error {
	// Temporary files live outside the tree, where listings do not see them.
	tmp := "/.rawfs-tmp/" + strconv.FormatUint(rand.Uint64(), 36)
	f, err := r.create(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if err = syncClose(f, err); err == nil {
		if err = os.Rename(r.full(tmp), r.full(p)); errors.Is(err, fs.ErrNotExist) {
			if err = os.MkdirAll(filepath.Dir(r.full(p)), 0o755); err == nil {
				err = os.Rename(r.full(tmp), r.full(p))
			}
		}
	}
	if err != nil {
		os.Remove(r.full(tmp))
		return err
	}
	return syncDir(filepath.Dir(r.full(p)))
}

// syncDir makes a rename into dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return syncClose(d, nil)
}

func (r *rawFS) create(p string, flag int) (*os.File, error) {
	name := r.full(p)
	f, err := os.OpenFile(name, flag, 0o644)
	if errors.Is(err, fs.ErrNotExist) && flag&os.O_CREATE != 0 {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(name, flag, 0o644)
	}
	return f, err
}

func syncClose(f *os.File, err error) error {
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (r *rawFS) NewRangeReader(_ context.Context, p string, offset, length int64) (io.ReadCloser, error) {
	f, err := os.Open(r.full(p))
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil || offset > fi.Size() {
		f.Close()
		if err == nil {
			err = driver.Errorf(driver.ErrInvalidOffset, "offset %d is past the end (%d bytes)", offset, fi.Size())
		}
		return nil, err
	}
	if length < 0 {
		length = fi.Size() - offset
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, offset, length), f}, nil
}

func (r *rawFS) Writer(_ context.Context, p string, append bool) (driver.FileWriter, error) {
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if append {
		flag = os.O_WRONLY | os.O_APPEND
	}
	f, err := r.create(p, flag)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &rawWriter{f: f, size: fi.Size()}, nil
}

type rawWriter struct {
	f    *os.File
	size int64
}

func (w *rawWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.size += int64(n)
	return n, err
}

func (w *rawWriter) Size() int64                  { return w.size }
func (w *rawWriter) Close() error                 { return syncClose(w.f, nil) }
func (w *rawWriter) Commit(context.Context) error { return syncClose(w.f, nil) }
func (w *rawWriter) Cancel(context.Context) error {
	name := w.f.Name()
	w.f.Close()
	return os.Remove(name)
}

func (r *rawFS) Stat(_ context.Context, p string) (driver.FileInfo, error) {
	fi, err := os.Stat(r.full(p))
	if err != nil {
		return nil, err
	}
	return driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{
		Path: p, Size: fi.Size(), ModTime: fi.ModTime(), IsDir: fi.IsDir()}}, nil
}

func (r *rawFS) List(_ context.Context, p string) ([]string, error) {
	entries, err := os.ReadDir(r.full(p))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, filepath.ToSlash(filepath.Join(p, e.Name())))
	}
	return out, nil
}

func (r *rawFS) Move(_ context.Context, src, dst string) error {
	to := r.full(dst)
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	if err := os.Rename(r.full(src), to); err != nil {
		return err
	}
	return syncDir(filepath.Dir(to))
}

func (r *rawFS) Delete(_ context.Context, p string) error {
	name := r.full(p)
	if _, err := os.Lstat(name); err != nil {
		return err
	}
	return os.RemoveAll(name)
}

func (r *rawFS) RedirectURL(*http.Request, string) (string, error) { return "", nil }

func (r *rawFS) Walk(ctx context.Context, p string, fn driver.WalkFn, opts driver.WalkOptions) error {
	return driver.WalkFallback(ctx, r, p, fn, opts)
}
