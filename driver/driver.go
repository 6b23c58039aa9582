package driver

import (
	"context"
	"io"
	"net/http"
	"time"
)

// Driver is the method set a registry uses: distribution v3's StorageDriver,
// plus ReadRange and Capabilities. *Store implements it, and so does every
// decorator. Callers hold a Driver; driver authors implement Backend.
type Driver interface {
	// Name is the driver's registered name ("nasfs", "s3", ...).
	Name() string
	// GetContent returns the whole content at path. Meant for small files.
	GetContent(ctx context.Context, path string) ([]byte, error)
	// PutContent replaces the content at path atomically (CONTRACT 1, 2).
	PutContent(ctx context.Context, path string, content []byte) error
	// Reader streams the content at path from offset to the end.
	Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error)
	// ReadRange streams length bytes from offset; length < 0 reads to the end.
	// A range past the end is cut at the end.
	ReadRange(ctx context.Context, path string, offset, length int64) (io.ReadCloser, error)
	// Writer opens an upload at path: a new one, or with append the one
	// already in progress there, continued after its last durable byte.
	Writer(ctx context.Context, path string, append bool) (FileWriter, error)
	// Stat describes the file or directory at path.
	Stat(ctx context.Context, path string) (FileInfo, error)
	// List returns the full paths of the direct children of the directory
	// at path, sorted.
	List(ctx context.Context, path string) ([]string, error)
	// Move renames sourcePath to destPath, replacing it atomically.
	Move(ctx context.Context, sourcePath, destPath string) error
	// Delete removes path and everything below it, uploads included.
	Delete(ctx context.Context, path string) error
	// RedirectURL returns a time-limited URL for a plain HTTP GET or HEAD of
	// path, or "" when the backend cannot sign one.
	RedirectURL(r *http.Request, path string) (string, error)
	// Walk visits every file and directory below path, depth first: a
	// directory before its contents, the entries of one directory in byte
	// order of their names.
	Walk(ctx context.Context, path string, fn WalkFn, options ...func(*WalkOptions)) error
	// Capabilities tells what the backend guarantees.
	Capabilities() Capabilities
}

// Backend is what a driver author implements. The Store calls it only with
// valid, non-reserved paths and non-negative offsets, and wraps whatever it
// returns, so a Backend returns its SDK's errors or one of the kinds of this
// package (wrapped with %w) and never needs to build an *Error itself.
//
// Obligations beyond Driver's doc comments:
//   - every read or stat of a missing path returns an error that is, or
//     classifies as, ErrNotFound;
//   - NewRangeReader with offset > size returns ErrInvalidOffset;
//   - content written through a FileWriter is invisible to every read, stat
//     and listing method until Commit;
//   - List and Walk never show anything under InternalPrefix.
type Backend interface {
	Name() string
	Capabilities() Capabilities
	GetContent(ctx context.Context, path string) ([]byte, error)
	PutContent(ctx context.Context, path string, content []byte) error
	NewRangeReader(ctx context.Context, path string, offset, length int64) (io.ReadCloser, error)
	Writer(ctx context.Context, path string, append bool) (FileWriter, error)
	Stat(ctx context.Context, path string) (FileInfo, error)
	List(ctx context.Context, path string) ([]string, error)
	Move(ctx context.Context, sourcePath, destPath string) error
	Delete(ctx context.Context, path string) error
	RedirectURL(r *http.Request, path string) (string, error)
	Walk(ctx context.Context, path string, fn WalkFn, opts WalkOptions) error
}

// Classifier may be implemented by a Backend whose SDK errors need
// translating: ClassifyError returns the kind (ErrNotFound, ...) of err, or
// nil when err is of none of them.
type Classifier interface {
	ClassifyError(err error) error
}

// FileWriter writes one upload. Write streams bytes; Close makes everything
// written so far durable and resumable by Writer(path, true) on any instance
// (CONTRACT 3); Commit makes the content visible at the path (CONTRACT 6);
// Cancel discards the upload and every backend resource behind it.
//
// After Commit or Cancel, Close returns nil. Cancel after Close discards the
// upload the writer closed. Every other call on a closed, committed or
// cancelled writer returns ErrClosed. A writer fenced by a newer writer on
// the same upload gets ErrConflict (CONTRACT 5).
type FileWriter interface {
	io.WriteCloser
	// Size is the number of bytes in the upload: those durable when it was
	// opened plus those written since.
	Size() int64
	Cancel(ctx context.Context) error
	Commit(ctx context.Context) error
}

// FileInfo describes a file or directory.
type FileInfo interface {
	Path() string
	Size() int64
	ModTime() time.Time
	IsDir() bool
}

// FileInfoFields holds the fields of a FileInfo.
type FileInfoFields struct {
	Path    string
	Size    int64
	ModTime time.Time
	IsDir   bool
}

// FileInfoInternal implements FileInfo over FileInfoFields.
type FileInfoInternal struct {
	FileInfoFields
}

var _ FileInfo = FileInfoInternal{}

func (fi FileInfoInternal) Path() string       { return fi.FileInfoFields.Path }
func (fi FileInfoInternal) Size() int64        { return fi.FileInfoFields.Size }
func (fi FileInfoInternal) ModTime() time.Time { return fi.FileInfoFields.ModTime }
func (fi FileInfoInternal) IsDir() bool        { return fi.FileInfoFields.IsDir }

// WalkFn is called by Walk for every file and directory. Returning ErrSkipDir
// for a directory skips its contents; ErrFilledBuffer stops the walk without
// an error; any other error stops it and is returned.
type WalkFn func(fi FileInfo) error

// WalkOptions tunes a Walk.
type WalkOptions struct {
	// StartAfterHint lets the walk skip paths that sort at or before it. It is
	// a hint: a backend may still visit them.
	StartAfterHint string
}

// WithStartAfterHint sets WalkOptions.StartAfterHint.
func WithStartAfterHint(p string) func(*WalkOptions) {
	return func(o *WalkOptions) { o.StartAfterHint = p }
}

// Consistency says when a listing shows a mutation made on another instance.
type Consistency int

const (
	// Strong: once the mutating call returned, List and Walk show it.
	Strong Consistency = iota
	// Eventual: List and Walk show it after a lag the suite measures.
	Eventual
)

func (c Consistency) String() string {
	if c == Eventual {
		return "eventual"
	}
	return "strong"
}

// Fencing says how sure a second writer on an upload fences the first.
type Fencing int

const (
	// FencingStrict: the stale writer always gets ErrConflict.
	FencingStrict Fencing = iota
	// FencingBestEffort: bytes never interleave, but a stale writer may go
	// undetected; the suite measures how often.
	FencingBestEffort
)

func (f Fencing) String() string {
	if f == FencingBestEffort {
		return "best-effort"
	}
	return "strict"
}

// Capabilities are what a backend declares about itself; the conformance
// suite reads them instead of guessing.
type Capabilities struct {
	Listing  Consistency
	Fencing  Fencing
	Redirect bool // RedirectURL can return a URL
	// MaxObjectSize is the largest object the backend stores; 0 is no limit.
	MaxObjectSize int64
	// SharedAcrossProcesses is true when instances in different OS processes
	// (or hosts) opened on the same configuration see one backend.
	SharedAcrossProcesses bool
}

type sizeHintKey struct{}

// WithSizeHint declares the size an upload will reach, for a Writer opened
// with the returned context: backends that cut uploads into parts choose a
// part size that fits it, and refuse with ErrTooLarge before any byte is
// sent when it exceeds what they store. A registry knows it from a PUT or
// PATCH Content-Length.
func WithSizeHint(ctx context.Context, n int64) context.Context {
	return context.WithValue(ctx, sizeHintKey{}, n)
}

// SizeHint returns the size declared with WithSizeHint.
func SizeHint(ctx context.Context) (int64, bool) {
	n, ok := ctx.Value(sizeHintKey{}).(int64)
	return n, ok && n >= 0
}
