// Package wrap holds what the decorators under decorate share: error kind
// names for labels and attributes, the test for a cancellation, a reader
// wrapper that keeps io.WriterTo, and forwarding of the methods a Store has
// beyond driver.Driver (Sweep, As).
package wrap

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/berthio/berth/driver"
)

// Kind names the kind of err for a metric label, a span attribute or a log
// attribute: "" for nil, the driver kind in snake case ("not_found", ...),
// "canceled" and "deadline_exceeded" for context errors, "other" for the rest.
func Kind(err error) string {
	if err == nil {
		return ""
	}
	switch driver.KindOf(err) {
	case driver.ErrNotFound:
		return "not_found"
	case driver.ErrInvalidPath:
		return "invalid_path"
	case driver.ErrInvalidOffset:
		return "invalid_offset"
	case driver.ErrConflict:
		return "conflict"
	case driver.ErrTooLarge:
		return "too_large"
	case driver.ErrUnsupported:
		return "unsupported"
	case driver.ErrPermission:
		return "permission"
	case driver.ErrInvalidConfig:
		return "invalid_config"
	case driver.ErrClosed:
		return "closed"
	}
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	}
	return "other"
}

// Canceled reports whether a call that returned err was cancelled by its
// caller: err is context.Canceled, or ctx was cancelled (whatever error the
// backend made of that). A deadline that passed is not a cancellation: it
// says the backend was slow.
func Canceled(ctx context.Context, err error) bool {
	if err == nil {
		return false
	}
	return errors.Is(err, context.Canceled) || (ctx != nil && errors.Is(ctx.Err(), context.Canceled))
}

// Stream is a decorator's reader: Read and Close of its own, and InnerWriteTo,
// the decorated io.WriterTo path, called only when the inner reader has one.
type Stream interface {
	io.ReadCloser
	InnerWriteTo(w io.Writer) (int64, error)
}

// Reader returns s as an io.ReadCloser that implements io.WriterTo exactly
// when inner does. io.Copy then still hands the backend's own buffers to the
// destination (see driver.Store's readers), and a decorator never adds a
// WriteTo that the backend lacks.
func Reader(s Stream, inner io.Reader) io.ReadCloser {
	if _, ok := inner.(io.WriterTo); ok {
		return writerTo{s}
	}
	return plain{s}
}

type plain struct{ s Stream }

func (p plain) Read(b []byte) (int, error) { return p.s.Read(b) }
func (p plain) Close() error               { return p.s.Close() }

type writerTo struct{ s Stream }

func (p writerTo) Read(b []byte) (int, error)         { return p.s.Read(b) }
func (p writerTo) Close() error                       { return p.s.Close() }
func (p writerTo) WriteTo(w io.Writer) (int64, error) { return p.s.InnerWriteTo(w) }

// WriteTo calls inner's WriteTo; Stream implementations call it from
// InnerWriteTo.
func WriteTo(inner io.Reader, w io.Writer) (int64, error) {
	return inner.(io.WriterTo).WriteTo(w)
}

type sweeper interface {
	Sweep(ctx context.Context, olderThan time.Duration) error
}

// HasSweep reports whether d can reclaim leftovers (driver.Store.Sweep).
func HasSweep(d driver.Driver) bool {
	_, ok := d.(sweeper)
	return ok
}

// Sweep calls d's Sweep where it has one, as driver.Store.Sweep does for
// backends without: elsewhere it does nothing.
func Sweep(ctx context.Context, d driver.Driver, olderThan time.Duration) error {
	if sw, ok := d.(sweeper); ok {
		return sw.Sweep(ctx, olderThan)
	}
	return nil
}

// As forwards to d's As (driver.Store.As), the escape hatch to the backend.
func As(d driver.Driver, target any) bool {
	if a, ok := d.(interface{ As(any) bool }); ok {
		return a.As(target)
	}
	return false
}
