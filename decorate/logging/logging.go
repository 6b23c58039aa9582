package logging

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/berthio/berth/decorate/internal/wrap"
	"github.com/berthio/berth/driver"
)

// Message is the message of every record.
const Message = "berth driver call"

// Options tune the records. A nil *Options is the defaults.
type Options struct {
	// Level is the level of calls that succeed, and of those that fail in
	// a way a registry meets in normal operation: ErrNotFound (a blob
	// existence check) and a cancellation by the caller. Nil is
	// slog.LevelDebug.
	Level slog.Leveler
	// ErrorLevel is the level of every other failure. Nil is
	// slog.LevelWarn.
	ErrorLevel slog.Leveler
}

// Driver logs one record per call of the driver it wraps.
type Driver struct {
	d        driver.Driver
	log      *slog.Logger
	level    slog.Level
	errLevel slog.Level
	name     slog.Attr
}

var _ driver.Driver = (*Driver)(nil)

// New returns d logging to logger (slog.Default() when nil).
func New(d driver.Driver, logger *slog.Logger, opts *Options) *Driver {
	if logger == nil {
		logger = slog.Default()
	}
	x := &Driver{d: d, log: logger, level: slog.LevelDebug, errLevel: slog.LevelWarn, name: slog.String("driver", d.Name())}
	if opts != nil && opts.Level != nil {
		x.level = opts.Level.Level()
	}
	if opts != nil && opts.ErrorLevel != nil {
		x.errLevel = opts.ErrorLevel.Level()
	}
	return x
}

// call is what one record says.
type call struct {
	op, path, dest string
	start          time.Time
	bytes          int64 // -1: none moved by this kind of call
	append         bool  // Writer(path, true)
}

// log writes the record of c, ended with err. ctx is the call's, for the
// handler and for telling a cancellation.
func (x *Driver) logCall(ctx context.Context, c call, err error) {
	level := x.level
	if err != nil && !errors.Is(err, driver.ErrNotFound) && !wrap.Canceled(ctx, err) {
		level = x.errLevel
	}
	if !x.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, x.name, slog.String("op", c.op))
	if c.path != "" {
		attrs = append(attrs, slog.String("path", c.path))
	}
	if c.dest != "" {
		attrs = append(attrs, slog.String("dest", c.dest))
	}
	if c.append {
		attrs = append(attrs, slog.Bool("append", true))
	}
	attrs = append(attrs, slog.Duration("duration", time.Since(c.start)))
	if c.bytes >= 0 {
		attrs = append(attrs, slog.Int64("bytes", c.bytes))
	}
	if err != nil {
		kind := wrap.Kind(err)
		if wrap.Canceled(ctx, err) {
			kind = "canceled"
		}
		attrs = append(attrs, slog.String("error_kind", kind), slog.String("error", Redact(err.Error())))
	}
	x.log.LogAttrs(ctx, level, Message, attrs...)
}

var (
	// scheme://user:password@host
	userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]*@`)
	// secret_key=..., X-Amz-Signature=..., OSSAccessKeyId=..., token=...
	secretParam = regexp.MustCompile(`(?i)([A-Za-z0-9_.-]*(?:secret|passw|token|signature|credential|access_?key|_sig)[A-Za-z0-9_.-]*=)[^&\s"']+`)
)

// Redact removes what looks like a credential from s: the user information
// of URLs and the values of parameters named like a secret, key, token,
// signature or credential. The drivers keep credentials out of their
// errors (CONTRACT 16); this is a second line, for what a backend's SDK
// puts into a message.
func Redact(s string) string {
	if strings.Contains(s, "://") {
		s = userinfo.ReplaceAllString(s, "${1}REDACTED@")
	}
	if strings.Contains(s, "=") {
		s = secretParam.ReplaceAllString(s, "${1}REDACTED")
	}
	return s
}

// Unwrap returns the decorated driver.
func (x *Driver) Unwrap() driver.Driver { return x.d }

// Name implements driver.Driver.
func (x *Driver) Name() string { return x.d.Name() }

// Capabilities implements driver.Driver: those of the decorated driver.
func (x *Driver) Capabilities() driver.Capabilities { return x.d.Capabilities() }

// As forwards to the decorated driver's As (driver.Store.As).
func (x *Driver) As(target any) bool { return wrap.As(x.d, target) }

// GetContent implements driver.Driver.
func (x *Driver) GetContent(ctx context.Context, path string) ([]byte, error) {
	c := call{op: "GetContent", path: path, start: time.Now()}
	b, err := x.d.GetContent(ctx, path)
	c.bytes = int64(len(b))
	x.logCall(ctx, c, err)
	return b, err
}

// PutContent implements driver.Driver.
func (x *Driver) PutContent(ctx context.Context, path string, content []byte) error {
	c := call{op: "PutContent", path: path, start: time.Now(), bytes: int64(len(content))}
	err := x.d.PutContent(ctx, path, content)
	x.logCall(ctx, c, err)
	return err
}

// Reader implements driver.Driver. The record is written when the reader is
// closed (or when opening it fails), with the bytes read.
func (x *Driver) Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	c := call{op: "Reader", path: path, start: time.Now()}
	return x.open(ctx, c, func() (io.ReadCloser, error) { return x.d.Reader(ctx, path, offset) })
}

// ReadRange implements driver.Driver, logged as Reader is.
func (x *Driver) ReadRange(ctx context.Context, path string, offset, length int64) (io.ReadCloser, error) {
	c := call{op: "ReadRange", path: path, start: time.Now()}
	return x.open(ctx, c, func() (io.ReadCloser, error) { return x.d.ReadRange(ctx, path, offset, length) })
}

func (x *Driver) open(ctx context.Context, c call, open func() (io.ReadCloser, error)) (io.ReadCloser, error) {
	rc, err := open()
	if err != nil {
		c.bytes = -1
		x.logCall(ctx, c, err)
		return nil, err
	}
	return wrap.Reader(&reader{rc: rc, x: x, ctx: ctx, c: c}, rc), nil
}

type reader struct {
	rc     io.ReadCloser
	x      *Driver
	ctx    context.Context
	c      call
	err    error // the first read error
	closed bool
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.count(int64(n), err)
	return n, err
}

func (r *reader) InnerWriteTo(w io.Writer) (int64, error) {
	n, err := wrap.WriteTo(r.rc, w)
	r.count(n, err)
	return n, err
}

func (r *reader) count(n int64, err error) {
	r.c.bytes += n
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
}

func (r *reader) Close() error {
	err := r.rc.Close()
	if !r.closed {
		r.closed = true
		if r.err != nil {
			r.x.logCall(r.ctx, r.c, r.err)
		} else {
			r.x.logCall(r.ctx, r.c, err)
		}
	}
	return err
}

// Writer implements driver.Driver. Opening the writer is one record; each
// Close, Commit and Cancel is another, with the bytes written through the
// writer so far; a Write is logged only when it fails.
func (x *Driver) Writer(ctx context.Context, path string, append bool) (driver.FileWriter, error) {
	c := call{op: "Writer", path: path, start: time.Now(), bytes: -1, append: append}
	w, err := x.d.Writer(ctx, path, append)
	x.logCall(ctx, c, err)
	if err != nil {
		return nil, err
	}
	return &writer{w: w, x: x, ctx: ctx, path: path}, nil
}

type writer struct {
	w    driver.FileWriter
	x    *Driver
	ctx  context.Context // Writer's
	path string
	n    int64
}

func (w *writer) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return w.w.Write(p)
	}
	start := time.Now()
	n, err := w.w.Write(p)
	w.n += int64(n)
	if err != nil {
		w.x.logCall(w.ctx, call{op: "Writer.Write", path: w.path, start: start, bytes: int64(n)}, err)
	}
	return n, err
}

func (w *writer) Size() int64 { return w.w.Size() }

func (w *writer) Close() error {
	c := call{op: "Writer.Close", path: w.path, start: time.Now()}
	err := w.w.Close()
	c.bytes = w.n
	w.x.logCall(context.Background(), c, err)
	return err
}

func (w *writer) Commit(ctx context.Context) error {
	c := call{op: "Writer.Commit", path: w.path, start: time.Now()}
	err := w.w.Commit(ctx)
	c.bytes = w.n
	w.x.logCall(ctx, c, err)
	return err
}

func (w *writer) Cancel(ctx context.Context) error {
	c := call{op: "Writer.Cancel", path: w.path, start: time.Now()}
	err := w.w.Cancel(ctx)
	c.bytes = w.n
	w.x.logCall(ctx, c, err)
	return err
}

// Stat implements driver.Driver.
func (x *Driver) Stat(ctx context.Context, path string) (driver.FileInfo, error) {
	c := call{op: "Stat", path: path, start: time.Now(), bytes: -1}
	fi, err := x.d.Stat(ctx, path)
	x.logCall(ctx, c, err)
	return fi, err
}

// List implements driver.Driver.
func (x *Driver) List(ctx context.Context, path string) ([]string, error) {
	c := call{op: "List", path: path, start: time.Now(), bytes: -1}
	entries, err := x.d.List(ctx, path)
	x.logCall(ctx, c, err)
	return entries, err
}

// Move implements driver.Driver.
func (x *Driver) Move(ctx context.Context, sourcePath, destPath string) error {
	c := call{op: "Move", path: sourcePath, dest: destPath, start: time.Now(), bytes: -1}
	err := x.d.Move(ctx, sourcePath, destPath)
	x.logCall(ctx, c, err)
	return err
}

// Delete implements driver.Driver.
func (x *Driver) Delete(ctx context.Context, path string) error {
	c := call{op: "Delete", path: path, start: time.Now(), bytes: -1}
	err := x.d.Delete(ctx, path)
	x.logCall(ctx, c, err)
	return err
}

// RedirectURL implements driver.Driver. The URL is never logged: it works
// without credentials for as long as it is valid.
func (x *Driver) RedirectURL(r *http.Request, path string) (string, error) {
	c := call{op: "RedirectURL", path: path, start: time.Now(), bytes: -1}
	u, err := x.d.RedirectURL(r, path)
	x.logCall(r.Context(), c, err)
	return u, err
}

// Walk implements driver.Driver. Its duration includes fn's calls.
func (x *Driver) Walk(ctx context.Context, path string, fn driver.WalkFn, options ...func(*driver.WalkOptions)) error {
	c := call{op: "Walk", path: path, start: time.Now(), bytes: -1}
	err := x.d.Walk(ctx, path, fn, options...)
	x.logCall(ctx, c, err)
	return err
}

// Sweep calls the decorated driver's Sweep, where it has one.
func (x *Driver) Sweep(ctx context.Context, olderThan time.Duration) error {
	c := call{op: "Sweep", path: "/", start: time.Now(), bytes: -1}
	err := wrap.Sweep(ctx, x.d, olderThan)
	x.logCall(ctx, c, err)
	return err
}
