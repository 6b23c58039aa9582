package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Store is the portable type every constructor returns. It validates paths
// and offsets before the backend is touched, wraps every error once as an
// *Error with its kind, hides InternalPrefix from listings, and keeps the
// FileWriter state machine, so that backends only translate calls.
type Store struct {
	b    Backend
	caps Capabilities
}

var _ Driver = (*Store)(nil)

// NewStore wraps a backend. Driver constructors call it; users rarely do.
func NewStore(b Backend) *Store {
	return &Store{b: b, caps: b.Capabilities()}
}

// Name returns the backend's name.
func (s *Store) Name() string { return s.b.Name() }

// Capabilities returns what the backend declared.
func (s *Store) Capabilities() Capabilities { return s.caps }

// As is the escape hatch to the backend: it sets target, a pointer to an
// interface or type the backend implements or wraps, and reports whether it
// could. A backend may implement As(any) bool to expose its SDK client.
func (s *Store) As(target any) bool {
	if a, ok := s.b.(interface{ As(any) bool }); ok && a.As(target) {
		return true
	}
	if p, ok := target.(*Backend); ok {
		*p = s.b
		return true
	}
	return false
}

func (s *Store) fail(op, path string, err error) error { return wrapError(s.b, op, path, err) }

func (s *Store) checkPath(op, p string) error {
	if !ValidPath(p) {
		return s.invalidPath(op, p)
	}
	return nil
}

func (s *Store) invalidPath(op, p string) error {
	reason := "must be absolute with components of [A-Za-z0-9._-], no '.' or '..', not under " + InternalPrefix
	return &Error{Driver: s.b.Name(), Op: op, Path: quoteIfOdd(p), Kind: ErrInvalidPath, Err: errors.New(reason)}
}

// quoteIfOdd quotes a path that could confuse a log reader (empty, spaces,
// control characters).
func quoteIfOdd(p string) string {
	if p == "" || strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f || r > 0x7e }) {
		return fmt.Sprintf("%q", p)
	}
	return p
}

// GetContent implements Driver.
func (s *Store) GetContent(ctx context.Context, path string) ([]byte, error) {
	const op = "GetContent"
	if err := s.checkPath(op, path); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, s.fail(op, path, err)
	}
	b, err := s.b.GetContent(ctx, path)
	if err != nil {
		return nil, s.fail(op, path, err)
	}
	return b, nil
}

// PutContent implements Driver.
func (s *Store) PutContent(ctx context.Context, path string, content []byte) error {
	const op = "PutContent"
	if err := s.checkPath(op, path); err != nil {
		return err
	}
	if max := s.caps.MaxObjectSize; max > 0 && int64(len(content)) > max {
		return &Error{Driver: s.b.Name(), Op: op, Path: path, Kind: ErrTooLarge,
			Err: fmt.Errorf("%d bytes exceed the backend's limit of %d", len(content), max)}
	}
	if err := ctx.Err(); err != nil {
		return s.fail(op, path, err)
	}
	return s.fail(op, path, s.b.PutContent(ctx, path, content))
}

// Reader implements Driver.
func (s *Store) Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	return s.readRange(ctx, "Reader", path, offset, -1)
}

// ReadRange implements Driver.
func (s *Store) ReadRange(ctx context.Context, path string, offset, length int64) (io.ReadCloser, error) {
	return s.readRange(ctx, "ReadRange", path, offset, length)
}

func (s *Store) readRange(ctx context.Context, op, path string, offset, length int64) (io.ReadCloser, error) {
	if err := s.checkPath(op, path); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, &Error{Driver: s.b.Name(), Op: op, Path: path, Kind: ErrInvalidOffset,
			Err: fmt.Errorf("offset %d is negative", offset)}
	}
	if length < 0 {
		length = -1
	}
	if err := ctx.Err(); err != nil {
		return nil, s.fail(op, path, err)
	}
	if length == 0 {
		// Still report a missing path or a bad offset.
		if _, err := s.b.NewRangeReader(ctx, path, offset, 0); err != nil {
			return nil, s.fail(op, path, err)
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	rc, err := s.b.NewRangeReader(ctx, path, offset, length)
	if err != nil {
		return nil, s.fail(op, path, err)
	}
	r := &reader{rc: rc, s: s, op: op, path: path}
	if wt, ok := rc.(io.WriterTo); ok {
		return &writerToReader{reader: r, wt: wt}, nil
	}
	return r, nil
}

// reader wraps read errors once.
type reader struct {
	rc   io.ReadCloser
	s    *Store
	op   string
	path string
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = r.s.fail(r.op+".Read", r.path, err)
	}
	return n, err
}

func (r *reader) Close() error { return r.s.fail(r.op+".Close", r.path, r.rc.Close()) }

// writerToReader keeps a backend reader's WriteTo reachable through the
// wrapper, so that io.Copy hands the backend's own buffers to the writer
// instead of copying them through one of its own.
type writerToReader struct {
	*reader
	wt io.WriterTo
}

func (r *writerToReader) WriteTo(w io.Writer) (int64, error) {
	n, err := r.wt.WriteTo(w)
	if err != nil {
		err = r.s.fail(r.op+".Read", r.path, err)
	}
	return n, err
}

// Stat implements Driver.
func (s *Store) Stat(ctx context.Context, path string) (FileInfo, error) {
	const op = "Stat"
	if !ValidDirPath(path) {
		return nil, s.invalidPath(op, path)
	}
	if err := ctx.Err(); err != nil {
		return nil, s.fail(op, path, err)
	}
	fi, err := s.b.Stat(ctx, path)
	if err != nil {
		return nil, s.fail(op, path, err)
	}
	return fi, nil
}

// List implements Driver.
func (s *Store) List(ctx context.Context, path string) ([]string, error) {
	const op = "List"
	if !ValidDirPath(path) {
		return nil, s.invalidPath(op, path)
	}
	if err := ctx.Err(); err != nil {
		return nil, s.fail(op, path, err)
	}
	entries, err := s.b.List(ctx, path)
	if err != nil {
		return nil, s.fail(op, path, err)
	}
	if path == "/" {
		entries = slices.DeleteFunc(entries, func(e string) bool { return IsUnder(e, InternalPrefix) })
	}
	slices.Sort(entries)
	return entries, nil
}

// Move implements Driver.
func (s *Store) Move(ctx context.Context, sourcePath, destPath string) error {
	const op = "Move"
	if err := s.checkPath(op, sourcePath); err != nil {
		return err
	}
	if err := s.checkPath(op, destPath); err != nil {
		return err
	}
	if IsUnder(destPath, sourcePath) && destPath != sourcePath {
		return &Error{Driver: s.b.Name(), Op: op, Path: sourcePath, Kind: ErrInvalidPath,
			Err: fmt.Errorf("cannot move into itself (%s)", destPath)}
	}
	if err := ctx.Err(); err != nil {
		return s.fail(op, sourcePath, err)
	}
	return s.fail(op, sourcePath, s.b.Move(ctx, sourcePath, destPath))
}

// Delete implements Driver.
func (s *Store) Delete(ctx context.Context, path string) error {
	const op = "Delete"
	if err := s.checkPath(op, path); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return s.fail(op, path, err)
	}
	return s.fail(op, path, s.b.Delete(ctx, path))
}

// RedirectURL implements Driver.
func (s *Store) RedirectURL(r *http.Request, path string) (string, error) {
	const op = "RedirectURL"
	if err := s.checkPath(op, path); err != nil {
		return "", err
	}
	if !s.caps.Redirect {
		return "", nil
	}
	u, err := s.b.RedirectURL(r, path)
	if err != nil {
		return "", s.fail(op, path, err)
	}
	return u, nil
}

// Walk implements Driver.
func (s *Store) Walk(ctx context.Context, path string, fn WalkFn, options ...func(*WalkOptions)) error {
	const op = "Walk"
	if !ValidDirPath(path) {
		return s.invalidPath(op, path)
	}
	var opts WalkOptions
	for _, o := range options {
		o(&opts)
	}
	if err := ctx.Err(); err != nil {
		return s.fail(op, path, err)
	}
	var fnErr error
	err := s.b.Walk(ctx, path, func(fi FileInfo) error {
		if IsUnder(fi.Path(), InternalPrefix) {
			if fi.IsDir() {
				return ErrSkipDir
			}
			return nil
		}
		if e := fn(fi); e != nil && e != ErrSkipDir && e != ErrFilledBuffer {
			fnErr = e
			return e
		} else {
			return e
		}
	}, opts)
	if errors.Is(err, ErrFilledBuffer) || errors.Is(err, ErrSkipDir) {
		return nil // ErrSkipDir from a file ends the walk, as in distribution
	}
	if fnErr != nil && errors.Is(err, fnErr) {
		return fnErr // the caller's own error, untouched
	}
	return s.fail(op, path, err)
}

// ErrSkipDir, returned by a WalkFn for a directory, skips its contents.
var ErrSkipDir = errors.New("skip this directory")

// ErrFilledBuffer, returned by a WalkFn, ends the walk early without error.
var ErrFilledBuffer = errors.New("we have enough data")

// Writer implements Driver.
func (s *Store) Writer(ctx context.Context, path string, append bool) (FileWriter, error) {
	const op = "Writer"
	if err := s.checkPath(op, path); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, s.fail(op, path, err)
	}
	w, err := s.b.Writer(ctx, path, append)
	if err != nil {
		return nil, s.fail(op, path, err)
	}
	return &fileWriter{w: w, s: s, path: path}, nil
}

type writerState int

const (
	writerOpen writerState = iota
	writerClosed
	writerCommitted
	writerCancelled
)

// fileWriter enforces the FileWriter state machine for every backend and
// wraps errors. It is safe for one goroutine at a time, like an os.File.
type fileWriter struct {
	mu    sync.Mutex
	w     FileWriter
	s     *Store
	path  string
	state writerState
}

func (fw *fileWriter) closedErr(op string) error {
	return &Error{Driver: fw.s.b.Name(), Op: op, Path: fw.path, Kind: ErrClosed}
}

func (fw *fileWriter) Write(p []byte) (int, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.state != writerOpen {
		return 0, fw.closedErr("Writer.Write")
	}
	n, err := fw.w.Write(p)
	return n, fw.s.fail("Writer.Write", fw.path, err)
}

func (fw *fileWriter) Size() int64 { return fw.w.Size() }

func (fw *fileWriter) Close() error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	switch fw.state {
	case writerCommitted, writerCancelled:
		return nil
	case writerClosed:
		return fw.closedErr("Writer.Close")
	}
	fw.state = writerClosed
	return fw.s.fail("Writer.Close", fw.path, fw.w.Close())
}

func (fw *fileWriter) Commit(ctx context.Context) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.state != writerOpen {
		return fw.closedErr("Writer.Commit")
	}
	if err := ctx.Err(); err != nil {
		return fw.s.fail("Writer.Commit", fw.path, err)
	}
	err := fw.w.Commit(ctx)
	if err == nil {
		fw.state = writerCommitted
	}
	return fw.s.fail("Writer.Commit", fw.path, err)
}

func (fw *fileWriter) Cancel(ctx context.Context) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.state == writerCommitted || fw.state == writerCancelled {
		return fw.closedErr("Writer.Cancel")
	}
	err := fw.w.Cancel(ctx)
	if err == nil {
		fw.state = writerCancelled
	}
	return fw.s.fail("Writer.Cancel", fw.path, err)
}

// Sweeper is implemented by backends that can reclaim what a killed
// process left behind: staging files, half-emptied trash, finished uploads
// whose teardown did not run. It never touches live data or uploads in
// progress; only leftovers older than olderThan are removed, so a sweep
// racing a live call of another process leaves that call's files alone.
type Sweeper interface {
	Sweep(ctx context.Context, olderThan time.Duration) error
}

// Sweep reclaims leftovers of killed processes older than olderThan, where
// the backend can (see Sweeper); elsewhere it does nothing.
func (s *Store) Sweep(ctx context.Context, olderThan time.Duration) error {
	if sw, ok := s.b.(Sweeper); ok {
		return s.fail("Sweep", "/", sw.Sweep(ctx, olderThan))
	}
	return nil
}
