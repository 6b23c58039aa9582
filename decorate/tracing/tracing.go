package tracing

import (
	"context"
	"io"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/berthio/berth/decorate/internal/wrap"
	"github.com/berthio/berth/driver"
)

// ScopeName is the instrumentation scope of the tracer.
const ScopeName = "github.com/berthio/berth/decorate/tracing"

// Attribute keys set on spans.
const (
	AttrDriver    = attribute.Key("berth.driver")
	AttrOp        = attribute.Key("berth.op")
	AttrPath      = attribute.Key("berth.path")
	AttrDestPath  = attribute.Key("berth.dest_path")
	AttrBytes     = attribute.Key("berth.bytes")
	AttrErrorKind = attribute.Key("berth.error.kind")
)

// Options tune the spans. A nil *Options is the defaults.
type Options struct {
	// TracerProvider makes the tracer. Default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Paths adds the path (and Move's destination) to every span. Off by
	// default: paths name repositories and digests, which a trace backend
	// may keep longer, or show wider, than the registry would.
	Paths bool
}

// Driver makes a span per call of the driver it wraps.
type Driver struct {
	d      driver.Driver
	tracer trace.Tracer
	paths  bool
	attrs  []attribute.KeyValue // driver name, fixed
}

var _ driver.Driver = (*Driver)(nil)

// New returns d with a span per call.
func New(d driver.Driver, opts *Options) *Driver {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	return &Driver{
		d:      d,
		tracer: o.TracerProvider.Tracer(ScopeName),
		paths:  o.Paths,
		attrs:  []attribute.KeyValue{AttrDriver.String(d.Name())},
	}
}

// start opens the span of one call, named "berth.<op>".
func (x *Driver) start(ctx context.Context, op, path string, more ...attribute.KeyValue) (context.Context, trace.Span) {
	return x.startAt(ctx, time.Time{}, op, path, more...)
}

// startAt is start with the span's start time; zero is now.
func (x *Driver) startAt(ctx context.Context, at time.Time, op, path string, more ...attribute.KeyValue) (context.Context, trace.Span) {
	attrs := make([]attribute.KeyValue, 0, 4+len(more))
	attrs = append(attrs, x.attrs...)
	attrs = append(attrs, AttrOp.String(op))
	if x.paths && path != "" {
		attrs = append(attrs, AttrPath.String(path))
		attrs = append(attrs, more...)
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...)}
	if !at.IsZero() {
		opts = append(opts, trace.WithTimestamp(at))
	}
	return x.tracer.Start(ctx, "berth."+op, opts...)
}

// fail records err on span: the error event, its kind, and an Error status
// whose description is the kind.
func fail(span trace.Span, err error) {
	if err == nil {
		return
	}
	kind := wrap.Kind(err)
	span.SetAttributes(AttrErrorKind.String(kind))
	span.RecordError(err)
	span.SetStatus(codes.Error, kind)
}

func end(span trace.Span, err error) {
	fail(span, err)
	span.End()
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
	ctx, span := x.start(ctx, "GetContent", path)
	b, err := x.d.GetContent(ctx, path)
	span.SetAttributes(AttrBytes.Int(len(b)))
	end(span, err)
	return b, err
}

// PutContent implements driver.Driver.
func (x *Driver) PutContent(ctx context.Context, path string, content []byte) error {
	ctx, span := x.start(ctx, "PutContent", path)
	span.SetAttributes(AttrBytes.Int(len(content)))
	err := x.d.PutContent(ctx, path, content)
	end(span, err)
	return err
}

// Reader implements driver.Driver. Its span lasts until the reader is
// closed, and records the bytes read.
func (x *Driver) Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	ctx, span := x.start(ctx, "Reader", path)
	return x.open(span, func() (io.ReadCloser, error) { return x.d.Reader(ctx, path, offset) })
}

// ReadRange implements driver.Driver, with a span as Reader's.
func (x *Driver) ReadRange(ctx context.Context, path string, offset, length int64) (io.ReadCloser, error) {
	ctx, span := x.start(ctx, "ReadRange", path)
	return x.open(span, func() (io.ReadCloser, error) { return x.d.ReadRange(ctx, path, offset, length) })
}

func (x *Driver) open(span trace.Span, call func() (io.ReadCloser, error)) (io.ReadCloser, error) {
	rc, err := call()
	if err != nil {
		end(span, err)
		return nil, err
	}
	return wrap.Reader(&reader{rc: rc, span: span}, rc), nil
}

type reader struct {
	rc     io.ReadCloser
	span   trace.Span
	n      int64
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
	r.n += n
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
}

func (r *reader) Close() error {
	err := r.rc.Close()
	if !r.closed {
		r.closed = true
		r.span.SetAttributes(AttrBytes.Int64(r.n))
		if r.err != nil {
			fail(r.span, r.err)
		} else {
			fail(r.span, err)
		}
		r.span.End()
	}
	return err
}

// Writer implements driver.Driver. Opening the writer is one span; each
// Close, Commit and Cancel of the writer is another, with the bytes
// written through it so far; a Write that fails gets a span of its own.
func (x *Driver) Writer(ctx context.Context, path string, append bool) (driver.FileWriter, error) {
	ctx, span := x.start(ctx, "Writer", path)
	span.SetAttributes(attribute.Bool("berth.append", append))
	w, err := x.d.Writer(ctx, path, append)
	end(span, err)
	if err != nil {
		return nil, err
	}
	return &writer{w: w, x: x, ctx: ctx, path: path}, nil
}

type writer struct {
	w    driver.FileWriter
	x    *Driver
	ctx  context.Context // Writer's, carrying its span: the parent of Close's
	path string
	n    int64
}

func (w *writer) Write(p []byte) (int, error) {
	start := time.Now()
	n, err := w.w.Write(p)
	w.n += int64(n)
	if err != nil {
		_, span := w.x.startAt(w.ctx, start, "Writer.Write", w.path)
		span.SetAttributes(AttrBytes.Int(n))
		end(span, err)
	}
	return n, err
}

func (w *writer) Size() int64 { return w.w.Size() }

func (w *writer) finish(ctx context.Context, op string, call func(ctx context.Context) error) error {
	ctx, span := w.x.start(ctx, op, w.path)
	err := call(ctx)
	span.SetAttributes(AttrBytes.Int64(w.n))
	end(span, err)
	return err
}

func (w *writer) Close() error {
	return w.finish(w.ctx, "Writer.Close", func(context.Context) error { return w.w.Close() })
}

func (w *writer) Commit(ctx context.Context) error {
	return w.finish(ctx, "Writer.Commit", w.w.Commit)
}

func (w *writer) Cancel(ctx context.Context) error {
	return w.finish(ctx, "Writer.Cancel", w.w.Cancel)
}

// Stat implements driver.Driver.
func (x *Driver) Stat(ctx context.Context, path string) (driver.FileInfo, error) {
	ctx, span := x.start(ctx, "Stat", path)
	fi, err := x.d.Stat(ctx, path)
	end(span, err)
	return fi, err
}

// List implements driver.Driver.
func (x *Driver) List(ctx context.Context, path string) ([]string, error) {
	ctx, span := x.start(ctx, "List", path)
	entries, err := x.d.List(ctx, path)
	span.SetAttributes(attribute.Int("berth.entries", len(entries)))
	end(span, err)
	return entries, err
}

// Move implements driver.Driver.
func (x *Driver) Move(ctx context.Context, sourcePath, destPath string) error {
	ctx, span := x.start(ctx, "Move", sourcePath, AttrDestPath.String(destPath))
	err := x.d.Move(ctx, sourcePath, destPath)
	end(span, err)
	return err
}

// Delete implements driver.Driver.
func (x *Driver) Delete(ctx context.Context, path string) error {
	ctx, span := x.start(ctx, "Delete", path)
	err := x.d.Delete(ctx, path)
	end(span, err)
	return err
}

// RedirectURL implements driver.Driver. The URL is never recorded: it is a
// credential for as long as it is valid.
func (x *Driver) RedirectURL(r *http.Request, path string) (string, error) {
	ctx, span := x.start(r.Context(), "RedirectURL", path)
	u, err := x.d.RedirectURL(r.WithContext(ctx), path)
	span.SetAttributes(attribute.Bool("berth.redirect", u != ""))
	end(span, err)
	return u, err
}

// Walk implements driver.Driver. The walk's span covers fn's calls.
func (x *Driver) Walk(ctx context.Context, path string, fn driver.WalkFn, options ...func(*driver.WalkOptions)) error {
	ctx, span := x.start(ctx, "Walk", path)
	err := x.d.Walk(ctx, path, fn, options...)
	end(span, err)
	return err
}

// Sweep calls the decorated driver's Sweep, where it has one.
func (x *Driver) Sweep(ctx context.Context, olderThan time.Duration) error {
	ctx, span := x.start(ctx, "Sweep", "/")
	err := wrap.Sweep(ctx, x.d, olderThan)
	end(span, err)
	return err
}
