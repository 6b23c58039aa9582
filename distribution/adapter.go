package distribution

import (
	"context"
	"errors"
	"io"
	"net/http"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/berthio/berth/driver"
)

// StorageDriver is a Berth driver seen as a distribution v3 storage driver.
// It translates errors and Walk callbacks and nothing else: readers, writers
// and file infos are the Berth driver's own, handed through, so no byte is
// copied on the way.
type StorageDriver struct {
	d driver.Driver
}

var _ storagedriver.StorageDriver = (*StorageDriver)(nil)

// New returns d as a distribution storage driver.
func New(d driver.Driver) *StorageDriver { return &StorageDriver{d: d} }

// Driver is the escape hatch to the Berth driver underneath.
func (s *StorageDriver) Driver() driver.Driver { return s.d }

// Name implements storagedriver.StorageDriver: the Berth driver's name.
func (s *StorageDriver) Name() string { return s.d.Name() }

// GetContent implements storagedriver.StorageDriver.
func (s *StorageDriver) GetContent(ctx context.Context, path string) ([]byte, error) {
	b, err := s.d.GetContent(ctx, path)
	if err != nil {
		return nil, s.mapErr(err, path, 0)
	}
	return b, nil
}

// PutContent implements storagedriver.StorageDriver.
func (s *StorageDriver) PutContent(ctx context.Context, path string, content []byte) error {
	return s.mapErr(s.d.PutContent(ctx, path, content), path, 0)
}

// Reader implements storagedriver.StorageDriver. The reader is the Berth
// driver's own.
func (s *StorageDriver) Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	rc, err := s.d.Reader(ctx, path, offset)
	if err != nil {
		return nil, s.mapErr(err, path, offset)
	}
	return rc, nil
}

// Writer implements storagedriver.StorageDriver. distribution lets a
// writer append to a path whose committed content is empty; a Berth driver
// resumes only uploads, so where append finds no upload but an empty file,
// the adapter opens a new upload, whose Commit replaces the empty file.
func (s *StorageDriver) Writer(ctx context.Context, path string, append bool) (storagedriver.FileWriter, error) {
	w, err := s.d.Writer(ctx, path, append)
	if append && errors.Is(err, driver.ErrNotFound) {
		if fi, serr := s.d.Stat(ctx, path); serr == nil && !fi.IsDir() && fi.Size() == 0 {
			w, err = s.d.Writer(ctx, path, false)
		}
	}
	if err != nil {
		return nil, s.mapErr(err, path, 0)
	}
	return &fileWriter{FileWriter: w, s: s, path: path}, nil
}

// Stat implements storagedriver.StorageDriver.
func (s *StorageDriver) Stat(ctx context.Context, path string) (storagedriver.FileInfo, error) {
	fi, err := s.d.Stat(ctx, path)
	if err != nil {
		return nil, s.mapErr(err, path, 0)
	}
	return fi, nil
}

// List implements storagedriver.StorageDriver.
func (s *StorageDriver) List(ctx context.Context, path string) ([]string, error) {
	l, err := s.d.List(ctx, path)
	if err != nil {
		return nil, s.mapErr(err, path, 0)
	}
	return l, nil
}

// Move implements storagedriver.StorageDriver. A missing source is a
// PathNotFoundError naming the source; an invalid path names the invalid
// one.
func (s *StorageDriver) Move(ctx context.Context, sourcePath, destPath string) error {
	err := s.d.Move(ctx, sourcePath, destPath)
	if err != nil && driver.ValidPath(sourcePath) && !driver.ValidPath(destPath) {
		return s.mapErr(err, destPath, 0)
	}
	return s.mapErr(err, sourcePath, 0)
}

// Delete implements storagedriver.StorageDriver.
func (s *StorageDriver) Delete(ctx context.Context, path string) error {
	return s.mapErr(s.d.Delete(ctx, path), path, 0)
}

// RedirectURL implements storagedriver.StorageDriver: "" where the backend
// cannot sign a URL, which tells the registry to serve the blob itself.
func (s *StorageDriver) RedirectURL(r *http.Request, path string) (string, error) {
	u, err := s.d.RedirectURL(r, path)
	if err != nil {
		return "", s.mapErr(err, path, 0)
	}
	return u, nil
}

// Walk implements storagedriver.StorageDriver. distribution's ErrSkipDir
// and ErrFilledBuffer keep their meaning; any other error of f ends the
// walk and is returned as it is.
func (s *StorageDriver) Walk(ctx context.Context, path string, f storagedriver.WalkFn, options ...func(*storagedriver.WalkOptions)) error {
	var o storagedriver.WalkOptions
	for _, opt := range options {
		opt(&o)
	}
	var opts []func(*driver.WalkOptions)
	if o.StartAfterHint != "" {
		opts = append(opts, driver.WithStartAfterHint(o.StartAfterHint))
	}
	err := s.d.Walk(ctx, path, func(fi driver.FileInfo) error {
		switch err := f(fi); err {
		case storagedriver.ErrSkipDir:
			return driver.ErrSkipDir
		case storagedriver.ErrFilledBuffer:
			return driver.ErrFilledBuffer
		default:
			return err
		}
	}, opts...)
	return s.mapErr(err, path, 0)
}

// fileWriter maps the errors of a Berth FileWriter; Write hands the caller's
// slice straight to it.
type fileWriter struct {
	driver.FileWriter
	s    *StorageDriver
	path string
}

var _ storagedriver.FileWriter = (*fileWriter)(nil)

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.FileWriter.Write(p)
	if err != nil {
		err = w.s.mapErr(err, w.path, 0)
	}
	return n, err
}

func (w *fileWriter) Close() error { return w.s.mapErr(w.FileWriter.Close(), w.path, 0) }

func (w *fileWriter) Cancel(ctx context.Context) error {
	return w.s.mapErr(w.FileWriter.Cancel(ctx), w.path, 0)
}

func (w *fileWriter) Commit(ctx context.Context) error {
	return w.s.mapErr(w.FileWriter.Commit(ctx), w.path, 0)
}
