package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/berthio/berth/decorate/internal/wrap"
	"github.com/berthio/berth/driver"
)

// Defaults of Options.
const (
	DefaultMaxAttempts    = 4
	DefaultInitialBackoff = 100 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
)

// Options tune the retries. A nil *Options is the defaults.
type Options struct {
	// MaxAttempts bounds the attempts of one call, the first included.
	// Default DefaultMaxAttempts; 1 turns retrying off.
	MaxAttempts int
	// InitialBackoff is the base delay before the second attempt; it doubles
	// with each further attempt up to MaxBackoff. The delay slept is drawn
	// uniformly from [base/2, base] (jitter), so that replicas that failed
	// together do not retry together.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// Retryable decides which errors are worth another attempt. Default
	// Transient. It is never asked about a call whose context is done.
	Retryable func(error) bool
	// OnRetry, if set, is called before each sleep, with the attempt that
	// failed (1 for the first) and the delay about to be slept: a place to
	// log or count retries.
	OnRetry func(op, path string, attempt int, err error, delay time.Duration)
}

// Driver retries the idempotent calls of the driver it wraps.
type Driver struct {
	d    driver.Driver
	opts Options
	// sleep waits d or until ctx is done; rand returns a float in [0, 1).
	// Replaced by tests.
	sleep func(ctx context.Context, d time.Duration) error
	rand  func() float64
}

var _ driver.Driver = (*Driver)(nil)

// New returns d with its idempotent calls retried on transient errors.
func New(d driver.Driver, opts *Options) *Driver {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = DefaultInitialBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.InitialBackoff {
		o.MaxBackoff = o.InitialBackoff
	}
	if o.Retryable == nil {
		o.Retryable = Transient
	}
	return &Driver{d: d, opts: o, sleep: sleepCtx, rand: rand.Float64}
}

// Transient reports whether err may go away on another attempt: it is not
// nil, not a context's cancellation or deadline, and of none of the driver's
// kinds (ErrNotFound, ErrInvalidPath, ErrInvalidOffset, ErrConflict,
// ErrTooLarge, ErrUnsupported, ErrPermission, ErrInvalidConfig, ErrClosed),
// which say something about the request or the data that another attempt
// would only repeat. What remains is what the driver could not classify:
// network errors, timeouts of the server, 5xx answers, throttling.
func Transient(err error) bool {
	if err == nil || driver.KindOf(err) != nil {
		return false
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Backoff returns the delay after the failed attempt number attempt (1 for
// the first): base = min(max, initial x 2^(attempt-1)), and a delay drawn
// with r (in [0, 1)) from [base/2, base].
func Backoff(attempt int, initial, max time.Duration, r float64) time.Duration {
	base := initial
	for i := 1; i < attempt && base < max; i++ {
		base *= 2
	}
	base = min(base, max)
	half := base / 2
	return half + time.Duration(r*float64(base-half))
}

// do runs call until it succeeds, fails for good, runs out of attempts or
// ctx is done. A call is never started (or started again) on a done
// context; a sleep interrupted by one returns the last error together with
// the context's.
func (x *Driver) do(ctx context.Context, op, path string, call func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = call()
		if err == nil || attempt >= x.opts.MaxAttempts || ctx.Err() != nil || !x.opts.Retryable(err) {
			return err
		}
		delay := Backoff(attempt, x.opts.InitialBackoff, x.opts.MaxBackoff, x.rand())
		if x.opts.OnRetry != nil {
			x.opts.OnRetry(op, path, attempt, err, delay)
		}
		if serr := x.sleep(ctx, delay); serr != nil {
			return fmt.Errorf("%w (retries stopped: %w)", err, serr)
		}
	}
}

// Unwrap returns the decorated driver.
func (x *Driver) Unwrap() driver.Driver { return x.d }

// Name implements driver.Driver.
func (x *Driver) Name() string { return x.d.Name() }

// Capabilities implements driver.Driver: those of the decorated driver.
func (x *Driver) Capabilities() driver.Capabilities { return x.d.Capabilities() }

// As forwards to the decorated driver's As (driver.Store.As).
func (x *Driver) As(target any) bool { return wrap.As(x.d, target) }

// GetContent is retried.
func (x *Driver) GetContent(ctx context.Context, path string) (b []byte, err error) {
	err = x.do(ctx, "GetContent", path, func() error {
		b, err = x.d.GetContent(ctx, path)
		return err
	})
	return b, err
}

// PutContent is retried: every attempt sends all of content, and a
// replace with the same bytes is idempotent.
func (x *Driver) PutContent(ctx context.Context, path string, content []byte) error {
	return x.do(ctx, "PutContent", path, func() error { return x.d.PutContent(ctx, path, content) })
}

// Reader is retried until it returns a reader; reads from that reader are
// not: once bytes were delivered, another attempt could continue on a newer
// version of the content and hand out a mix.
func (x *Driver) Reader(ctx context.Context, path string, offset int64) (rc io.ReadCloser, err error) {
	err = x.do(ctx, "Reader", path, func() error {
		rc, err = x.d.Reader(ctx, path, offset)
		return err
	})
	return rc, err
}

// ReadRange is retried as Reader is.
func (x *Driver) ReadRange(ctx context.Context, path string, offset, length int64) (rc io.ReadCloser, err error) {
	err = x.do(ctx, "ReadRange", path, func() error {
		rc, err = x.d.ReadRange(ctx, path, offset, length)
		return err
	})
	return rc, err
}

// Writer is not retried, nor is any method of the FileWriter it returns.
// Opening a writer creates an upload or takes one over (fencing the writer
// before), and Write, Close, Commit and Cancel move an upload on: after an
// answer lost on the way, another attempt would act twice.
func (x *Driver) Writer(ctx context.Context, path string, append bool) (driver.FileWriter, error) {
	return x.d.Writer(ctx, path, append)
}

// Stat is retried.
func (x *Driver) Stat(ctx context.Context, path string) (fi driver.FileInfo, err error) {
	err = x.do(ctx, "Stat", path, func() error {
		fi, err = x.d.Stat(ctx, path)
		return err
	})
	return fi, err
}

// List is retried.
func (x *Driver) List(ctx context.Context, path string) (entries []string, err error) {
	err = x.do(ctx, "List", path, func() error {
		entries, err = x.d.List(ctx, path)
		return err
	})
	return entries, err
}

// Move is not retried: after a move whose answer was lost the source is
// gone, and another attempt would report ErrNotFound for a move that
// happened, or race a replica's move of the same source (CONTRACT 7).
func (x *Driver) Move(ctx context.Context, sourcePath, destPath string) error {
	return x.d.Move(ctx, sourcePath, destPath)
}

// Delete is retried: removing what is already gone changes nothing. An
// attempt after one that removed the path but lost the answer reports
// ErrNotFound.
func (x *Driver) Delete(ctx context.Context, path string) error {
	return x.do(ctx, "Delete", path, func() error { return x.d.Delete(ctx, path) })
}

// RedirectURL is retried (signing a URL has no effect on the backend).
func (x *Driver) RedirectURL(r *http.Request, path string) (u string, err error) {
	err = x.do(r.Context(), "RedirectURL", path, func() error {
		u, err = x.d.RedirectURL(r, path)
		return err
	})
	return u, err
}

// Walk is retried only while fn has not been called: a walk that failed
// after visiting entries is not started again, since fn would see them
// twice.
func (x *Driver) Walk(ctx context.Context, path string, fn driver.WalkFn, options ...func(*driver.WalkOptions)) error {
	called := false
	seen := func(fi driver.FileInfo) error {
		called = true
		return fn(fi)
	}
	retryable := x.opts.Retryable
	return x.doIf(ctx, "Walk", path, func(err error) bool { return !called && retryable(err) }, func() error {
		return x.d.Walk(ctx, path, seen, options...)
	})
}

// Sweep is retried: it only removes leftovers, and a second pass finds
// fewer.
func (x *Driver) Sweep(ctx context.Context, olderThan time.Duration) error {
	return x.do(ctx, "Sweep", "/", func() error { return wrap.Sweep(ctx, x.d, olderThan) })
}

func (x *Driver) doIf(ctx context.Context, op, path string, retryable func(error) bool, call func() error) error {
	y := *x
	y.opts.Retryable = retryable
	return y.do(ctx, op, path, call)
}
