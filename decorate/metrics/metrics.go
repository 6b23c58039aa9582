package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthio/berth/decorate/internal/wrap"
	"github.com/berthio/berth/driver"
)

// DefaultBuckets are the latency histogram's buckets, in seconds: from a
// local disk's millisecond to a two-minute copy of a large object.
var DefaultBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

// Options tune the metrics. A nil *Options is the defaults.
type Options struct {
	// Namespace and Subsystem prefix every metric name. Default "berth"
	// and "driver": berth_driver_operations_total, ...
	Namespace, Subsystem string
	// Buckets of the latency histogram, in seconds. Default DefaultBuckets.
	Buckets []float64
	// ConstLabels are added to every metric.
	ConstLabels prometheus.Labels
}

// Metrics is one set of collectors, registered once, shared by every
// driver it wraps; the driver label tells the drivers apart.
type Metrics struct {
	ops       *prometheus.CounterVec   // driver, operation
	failures  *prometheus.CounterVec   // driver, operation, kind
	cancels   *prometheus.CounterVec   // driver, operation
	duration  *prometheus.HistogramVec // driver, operation
	bytesRead *prometheus.CounterVec   // driver, operation
	bytesWrit *prometheus.CounterVec   // driver, operation
}

// NewMetrics creates the collectors and registers them with reg. Where reg
// already holds collectors of the same names and labels (a second
// NewMetrics on one registry), those are used, so that every instance of a
// driver can be wrapped with New on one registry.
func NewMetrics(reg prometheus.Registerer, opts *Options) (*Metrics, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = "berth"
	}
	if o.Subsystem == "" {
		o.Subsystem = "driver"
	}
	if o.Buckets == nil {
		o.Buckets = DefaultBuckets
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: o.Namespace, Subsystem: o.Subsystem, Name: name, Help: help, ConstLabels: o.ConstLabels,
		}, labels)
	}
	m := &Metrics{
		ops: counter("operations_total",
			"Calls of driver methods and of writers' Close, Commit and Cancel.", "driver", "operation"),
		failures: counter("operation_failures_total",
			"Calls, reads and writes that failed, by error kind; cancellations excluded.", "driver", "operation", "kind"),
		cancels: counter("operation_cancellations_total",
			"Calls, reads and writes ended by their caller's context cancellation (not failures).", "driver", "operation"),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: o.Namespace, Subsystem: o.Subsystem, Name: "operation_duration_seconds",
			Help:    "Duration of calls that were not cancelled; a reader's from opening to Close.",
			Buckets: o.Buckets, ConstLabels: o.ConstLabels,
		}, []string{"driver", "operation"}),
		bytesRead: counter("read_bytes_total",
			"Bytes handed to callers by GetContent and by readers.", "driver", "operation"),
		bytesWrit: counter("written_bytes_total",
			"Bytes taken from callers by PutContent (when it succeeds) and by writers' Write.", "driver", "operation"),
	}
	var err error
	m.ops, err = register(reg, m.ops)
	if err == nil {
		m.failures, err = register(reg, m.failures)
	}
	if err == nil {
		m.cancels, err = register(reg, m.cancels)
	}
	if err == nil {
		m.duration, err = register(reg, m.duration)
	}
	if err == nil {
		m.bytesRead, err = register(reg, m.bytesRead)
	}
	if err == nil {
		m.bytesWrit, err = register(reg, m.bytesWrit)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector of the same description
// that reg already holds.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("metrics: register: %w", err)
}

// New returns d instrumented with collectors registered with reg (see
// NewMetrics): the usual call, once per driver instance.
func New(d driver.Driver, reg prometheus.Registerer, opts *Options) (*Driver, error) {
	m, err := NewMetrics(reg, opts)
	if err != nil {
		return nil, err
	}
	return m.Wrap(d), nil
}

// Wrap returns d instrumented with m.
func (m *Metrics) Wrap(d driver.Driver) *Driver {
	return &Driver{d: d, m: m, name: d.Name()}
}

// Driver counts the calls of the driver it wraps.
type Driver struct {
	d    driver.Driver
	m    *Metrics
	name string
}

var _ driver.Driver = (*Driver)(nil)

// done records a finished call.
func (x *Driver) done(ctx context.Context, op string, start time.Time, err error) {
	x.m.ops.WithLabelValues(x.name, op).Inc()
	if err != nil {
		if wrap.Canceled(ctx, err) {
			x.m.cancels.WithLabelValues(x.name, op).Inc()
			return
		}
		x.m.failures.WithLabelValues(x.name, op, wrap.Kind(err)).Inc()
	}
	x.m.duration.WithLabelValues(x.name, op).Observe(time.Since(start).Seconds())
}

// streamErr records a failed read or write of a stream: not an operation of
// its own, but a failure (or a cancellation) of one.
func (x *Driver) streamErr(ctx context.Context, op string, err error) {
	if wrap.Canceled(ctx, err) {
		x.m.cancels.WithLabelValues(x.name, op).Inc()
		return
	}
	x.m.failures.WithLabelValues(x.name, op, wrap.Kind(err)).Inc()
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
	start := time.Now()
	b, err := x.d.GetContent(ctx, path)
	if len(b) > 0 {
		x.m.bytesRead.WithLabelValues(x.name, "GetContent").Add(float64(len(b)))
	}
	x.done(ctx, "GetContent", start, err)
	return b, err
}

// PutContent implements driver.Driver.
func (x *Driver) PutContent(ctx context.Context, path string, content []byte) error {
	start := time.Now()
	err := x.d.PutContent(ctx, path, content)
	if err == nil && len(content) > 0 {
		x.m.bytesWrit.WithLabelValues(x.name, "PutContent").Add(float64(len(content)))
	}
	x.done(ctx, "PutContent", start, err)
	return err
}

// Reader implements driver.Driver.
func (x *Driver) Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	return x.open(ctx, "Reader", func() (io.ReadCloser, error) { return x.d.Reader(ctx, path, offset) })
}

// ReadRange implements driver.Driver.
func (x *Driver) ReadRange(ctx context.Context, path string, offset, length int64) (io.ReadCloser, error) {
	return x.open(ctx, "ReadRange", func() (io.ReadCloser, error) { return x.d.ReadRange(ctx, path, offset, length) })
}

// open counts a reader's opening as its operation; its duration runs to
// Close, its bytes are counted as they are read.
func (x *Driver) open(ctx context.Context, op string, call func() (io.ReadCloser, error)) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := call()
	if err != nil {
		x.done(ctx, op, start, err)
		return nil, err
	}
	x.m.ops.WithLabelValues(x.name, op).Inc()
	r := &reader{rc: rc, x: x, ctx: ctx, op: op, start: start,
		bytes: x.m.bytesRead.WithLabelValues(x.name, op)}
	return wrap.Reader(r, rc), nil
}

type reader struct {
	rc     io.ReadCloser
	x      *Driver
	ctx    context.Context
	op     string
	start  time.Time
	bytes  prometheus.Counter
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
	if n > 0 {
		r.bytes.Add(float64(n))
	}
	if err != nil && err != io.EOF {
		r.x.streamErr(r.ctx, r.op+".Read", err)
	}
}

func (r *reader) Close() error {
	err := r.rc.Close()
	if !r.closed {
		r.closed = true
		if err != nil {
			r.x.streamErr(r.ctx, r.op+".Close", err)
		}
		if !wrap.Canceled(r.ctx, err) {
			r.x.m.duration.WithLabelValues(r.x.name, r.op).Observe(time.Since(r.start).Seconds())
		}
	}
	return err
}

// Writer implements driver.Driver.
func (x *Driver) Writer(ctx context.Context, path string, append bool) (driver.FileWriter, error) {
	start := time.Now()
	w, err := x.d.Writer(ctx, path, append)
	x.done(ctx, "Writer", start, err)
	if err != nil {
		return nil, err
	}
	return &writer{w: w, x: x, ctx: ctx, bytes: x.m.bytesWrit.WithLabelValues(x.name, "Writer")}, nil
}

type writer struct {
	w     driver.FileWriter
	x     *Driver
	ctx   context.Context // Writer's, for telling a cancelled Write
	bytes prometheus.Counter
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if n > 0 {
		w.bytes.Add(float64(n))
	}
	if err != nil {
		w.x.streamErr(w.ctx, "Writer.Write", err)
	}
	return n, err
}

func (w *writer) Size() int64 { return w.w.Size() }

func (w *writer) Close() error {
	start := time.Now()
	err := w.w.Close()
	w.x.done(context.Background(), "Writer.Close", start, err)
	return err
}

func (w *writer) Commit(ctx context.Context) error {
	start := time.Now()
	err := w.w.Commit(ctx)
	w.x.done(ctx, "Writer.Commit", start, err)
	return err
}

func (w *writer) Cancel(ctx context.Context) error {
	start := time.Now()
	err := w.w.Cancel(ctx)
	w.x.done(ctx, "Writer.Cancel", start, err)
	return err
}

// Stat implements driver.Driver.
func (x *Driver) Stat(ctx context.Context, path string) (driver.FileInfo, error) {
	start := time.Now()
	fi, err := x.d.Stat(ctx, path)
	x.done(ctx, "Stat", start, err)
	return fi, err
}

// List implements driver.Driver.
func (x *Driver) List(ctx context.Context, path string) ([]string, error) {
	start := time.Now()
	entries, err := x.d.List(ctx, path)
	x.done(ctx, "List", start, err)
	return entries, err
}

// Move implements driver.Driver.
func (x *Driver) Move(ctx context.Context, sourcePath, destPath string) error {
	start := time.Now()
	err := x.d.Move(ctx, sourcePath, destPath)
	x.done(ctx, "Move", start, err)
	return err
}

// Delete implements driver.Driver.
func (x *Driver) Delete(ctx context.Context, path string) error {
	start := time.Now()
	err := x.d.Delete(ctx, path)
	x.done(ctx, "Delete", start, err)
	return err
}

// RedirectURL implements driver.Driver.
func (x *Driver) RedirectURL(r *http.Request, path string) (string, error) {
	start := time.Now()
	u, err := x.d.RedirectURL(r, path)
	x.done(r.Context(), "RedirectURL", start, err)
	return u, err
}

// Walk implements driver.Driver. The walk's duration includes fn's.
func (x *Driver) Walk(ctx context.Context, path string, fn driver.WalkFn, options ...func(*driver.WalkOptions)) error {
	start := time.Now()
	err := x.d.Walk(ctx, path, fn, options...)
	x.done(ctx, "Walk", start, err)
	return err
}

// Sweep calls the decorated driver's Sweep, where it has one.
func (x *Driver) Sweep(ctx context.Context, olderThan time.Duration) error {
	start := time.Now()
	err := wrap.Sweep(ctx, x.d, olderThan)
	x.done(ctx, "Sweep", start, err)
	return err
}
