package limit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/berthio/berth/decorate/internal/wrap"
	"github.com/berthio/berth/driver"
)

// Driver bounds the calls in flight on the driver it wraps.
type Driver struct {
	d   driver.Driver
	sem chan struct{}
}

var _ driver.Driver = (*Driver)(nil)

// New returns d with at most n calls in flight; a reader or writer holds its
// slot until it is closed (see the package doc). n below 1 panics.
func New(d driver.Driver, n int) *Driver {
	if n < 1 {
		panic(fmt.Sprintf("limit.New: limit %d is below 1", n))
	}
	return &Driver{d: d, sem: make(chan struct{}, n)}
}

// InUse returns the slots taken now.
func (x *Driver) InUse() int { return len(x.sem) }

// Limit returns the number of slots.
func (x *Driver) Limit() int { return cap(x.sem) }

// acquire takes a slot, or fails when ctx is done first.
func (x *Driver) acquire(ctx context.Context, op, path string) error {
	select {
	case x.sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case x.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return &driver.Error{Driver: x.d.Name(), Op: op, Path: path, Err: ctx.Err()}
	}
}

func (x *Driver) release() { <-x.sem }

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
	if err := x.acquire(ctx, "GetContent", path); err != nil {
		return nil, err
	}
	defer x.release()
	return x.d.GetContent(ctx, path)
}

// PutContent implements driver.Driver.
func (x *Driver) PutContent(ctx context.Context, path string, content []byte) error {
	if err := x.acquire(ctx, "PutContent", path); err != nil {
		return err
	}
	defer x.release()
	return x.d.PutContent(ctx, path, content)
}

// Reader implements driver.Driver; the reader holds a slot until Close.
func (x *Driver) Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	return x.open(ctx, "Reader", path, func() (io.ReadCloser, error) { return x.d.Reader(ctx, path, offset) })
}

// ReadRange implements driver.Driver; the reader holds a slot until Close.
func (x *Driver) ReadRange(ctx context.Context, path string, offset, length int64) (io.ReadCloser, error) {
	return x.open(ctx, "ReadRange", path, func() (io.ReadCloser, error) { return x.d.ReadRange(ctx, path, offset, length) })
}

func (x *Driver) open(ctx context.Context, op, path string, call func() (io.ReadCloser, error)) (io.ReadCloser, error) {
	if err := x.acquire(ctx, op, path); err != nil {
		return nil, err
	}
	rc, err := call()
	if err != nil {
		x.release()
		return nil, err
	}
	return wrap.Reader(&reader{rc: rc, x: x}, rc), nil
}

type reader struct {
	rc   io.ReadCloser
	x    *Driver
	once sync.Once
}

func (r *reader) Read(p []byte) (int, error)              { return r.rc.Read(p) }
func (r *reader) InnerWriteTo(w io.Writer) (int64, error) { return wrap.WriteTo(r.rc, w) }

func (r *reader) Close() error {
	err := r.rc.Close()
	r.once.Do(r.x.release)
	return err
}

// Writer implements driver.Driver. The writer holds a slot until Close, or
// until a Commit or Cancel that succeeds; a Cancel after Close takes a slot
// for its own duration.
func (x *Driver) Writer(ctx context.Context, path string, append bool) (driver.FileWriter, error) {
	if err := x.acquire(ctx, "Writer", path); err != nil {
		return nil, err
	}
	w, err := x.d.Writer(ctx, path, append)
	if err != nil {
		x.release()
		return nil, err
	}
	return &writer{w: w, x: x, path: path}, nil
}

type writer struct {
	w    driver.FileWriter
	x    *Driver
	path string

	mu       sync.Mutex
	released bool
}

func (w *writer) Write(p []byte) (int, error) { return w.w.Write(p) }
func (w *writer) Size() int64                 { return w.w.Size() }

// done gives the slot back, once.
func (w *writer) done() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.released {
		w.released = true
		w.x.release()
	}
}

func (w *writer) holding() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.released
}

func (w *writer) Close() error {
	err := w.w.Close()
	w.done()
	return err
}

func (w *writer) Commit(ctx context.Context) error {
	err := w.w.Commit(ctx)
	if err == nil {
		w.done()
	}
	return err
}

func (w *writer) Cancel(ctx context.Context) error {
	if !w.holding() {
		if err := w.x.acquire(ctx, "Writer.Cancel", w.path); err != nil {
			return err
		}
		defer w.x.release()
		return w.w.Cancel(ctx)
	}
	err := w.w.Cancel(ctx)
	if err == nil {
		w.done()
	}
	return err
}

// Stat implements driver.Driver.
func (x *Driver) Stat(ctx context.Context, path string) (driver.FileInfo, error) {
	if err := x.acquire(ctx, "Stat", path); err != nil {
		return nil, err
	}
	defer x.release()
	return x.d.Stat(ctx, path)
}

// List implements driver.Driver.
func (x *Driver) List(ctx context.Context, path string) ([]string, error) {
	if err := x.acquire(ctx, "List", path); err != nil {
		return nil, err
	}
	defer x.release()
	return x.d.List(ctx, path)
}

// Move implements driver.Driver.
func (x *Driver) Move(ctx context.Context, sourcePath, destPath string) error {
	if err := x.acquire(ctx, "Move", sourcePath); err != nil {
		return err
	}
	defer x.release()
	return x.d.Move(ctx, sourcePath, destPath)
}

// Delete implements driver.Driver.
func (x *Driver) Delete(ctx context.Context, path string) error {
	if err := x.acquire(ctx, "Delete", path); err != nil {
		return err
	}
	defer x.release()
	return x.d.Delete(ctx, path)
}

// RedirectURL implements driver.Driver.
func (x *Driver) RedirectURL(r *http.Request, path string) (string, error) {
	if err := x.acquire(r.Context(), "RedirectURL", path); err != nil {
		return "", err
	}
	defer x.release()
	return x.d.RedirectURL(r, path)
}

// Walk implements driver.Driver. The walk holds one slot throughout, fn's
// calls included.
func (x *Driver) Walk(ctx context.Context, path string, fn driver.WalkFn, options ...func(*driver.WalkOptions)) error {
	if err := x.acquire(ctx, "Walk", path); err != nil {
		return err
	}
	defer x.release()
	return x.d.Walk(ctx, path, fn, options...)
}

// Sweep calls the decorated driver's Sweep, where it has one, in a slot.
func (x *Driver) Sweep(ctx context.Context, olderThan time.Duration) error {
	if err := x.acquire(ctx, "Sweep", "/"); err != nil {
		return err
	}
	defer x.release()
	return wrap.Sweep(ctx, x.d, olderThan)
}
