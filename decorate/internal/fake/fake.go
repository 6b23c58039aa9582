// Package fake is a driver.Driver for the decorators' tests: it passes
// calls to a real driver, counts them per operation, and fails or holds
// them as a test says.
package fake

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/berthio/berth/decorate/internal/wrap"
	"github.com/berthio/berth/driver"
)

// Driver wraps a driver. Operations are named as in the decorators:
// "GetContent", ..., "Reader.Read", "Writer.Write", "Writer.Close",
// "Writer.Commit", "Writer.Cancel", "Sweep".
type Driver struct {
	driver.Driver
	// Caps, if set, is returned by Capabilities instead of the inner's.
	Caps *driver.Capabilities
	// Fail, if set, is asked before each call with the operation and the
	// number of its call (1 for the first); a non-nil error is returned
	// instead of calling through.
	Fail func(op string, n int) error
	// Enter, if set, is called before each call passes through (after
	// Fail): a test can hold calls there.
	Enter func(op string)

	mu    sync.Mutex
	calls map[string]int
	puts  [][]byte
}

// Calls returns how many calls of op were made.
func (f *Driver) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Puts returns the content each PutContent call received.
func (f *Driver) Puts() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.puts...)
}

func (f *Driver) call(op string) error {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
	n := f.calls[op]
	f.mu.Unlock()
	if f.Fail != nil {
		if err := f.Fail(op, n); err != nil {
			return err
		}
	}
	if f.Enter != nil {
		f.Enter(op)
	}
	return nil
}

func (f *Driver) Capabilities() driver.Capabilities {
	if f.Caps != nil {
		return *f.Caps
	}
	return f.Driver.Capabilities()
}

func (f *Driver) GetContent(ctx context.Context, path string) ([]byte, error) {
	if err := f.call("GetContent"); err != nil {
		return nil, err
	}
	return f.Driver.GetContent(ctx, path)
}

func (f *Driver) PutContent(ctx context.Context, path string, content []byte) error {
	f.mu.Lock()
	f.puts = append(f.puts, append([]byte(nil), content...))
	f.mu.Unlock()
	if err := f.call("PutContent"); err != nil {
		return err
	}
	return f.Driver.PutContent(ctx, path, content)
}

func (f *Driver) Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	if err := f.call("Reader"); err != nil {
		return nil, err
	}
	rc, err := f.Driver.Reader(ctx, path, offset)
	return f.reader(rc), err
}

func (f *Driver) ReadRange(ctx context.Context, path string, offset, length int64) (io.ReadCloser, error) {
	if err := f.call("ReadRange"); err != nil {
		return nil, err
	}
	rc, err := f.Driver.ReadRange(ctx, path, offset, length)
	return f.reader(rc), err
}

// reader fails reads as Fail says for "Reader.Read", and keeps WriteTo
// where rc has it.
func (f *Driver) reader(rc io.ReadCloser) io.ReadCloser {
	if rc == nil || f.Fail == nil {
		return rc
	}
	return wrap.Reader(&reader{rc: rc, f: f}, rc)
}

type reader struct {
	rc io.ReadCloser
	f  *Driver
}

func (r *reader) Read(p []byte) (int, error) {
	if err := r.f.call("Reader.Read"); err != nil {
		return 0, err
	}
	return r.rc.Read(p)
}

func (r *reader) InnerWriteTo(w io.Writer) (int64, error) {
	if err := r.f.call("Reader.Read"); err != nil {
		return 0, err
	}
	return wrap.WriteTo(r.rc, w)
}

func (r *reader) Close() error { return r.rc.Close() }

func (f *Driver) Writer(ctx context.Context, path string, append bool) (driver.FileWriter, error) {
	if err := f.call("Writer"); err != nil {
		return nil, err
	}
	w, err := f.Driver.Writer(ctx, path, append)
	if err != nil {
		return nil, err
	}
	return &Writer{w: w, f: f}, nil
}

// Writer is the fake's FileWriter.
type Writer struct {
	w driver.FileWriter
	f *Driver
}

func (w *Writer) Write(p []byte) (int, error) {
	if err := w.f.call("Writer.Write"); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}

func (w *Writer) Size() int64 { return w.w.Size() }

func (w *Writer) Close() error {
	if err := w.f.call("Writer.Close"); err != nil {
		return err
	}
	return w.w.Close()
}

func (w *Writer) Commit(ctx context.Context) error {
	if err := w.f.call("Writer.Commit"); err != nil {
		return err
	}
	return w.w.Commit(ctx)
}

func (w *Writer) Cancel(ctx context.Context) error {
	if err := w.f.call("Writer.Cancel"); err != nil {
		return err
	}
	return w.w.Cancel(ctx)
}

func (f *Driver) Stat(ctx context.Context, path string) (driver.FileInfo, error) {
	if err := f.call("Stat"); err != nil {
		return nil, err
	}
	return f.Driver.Stat(ctx, path)
}

func (f *Driver) List(ctx context.Context, path string) ([]string, error) {
	if err := f.call("List"); err != nil {
		return nil, err
	}
	return f.Driver.List(ctx, path)
}

func (f *Driver) Move(ctx context.Context, sourcePath, destPath string) error {
	if err := f.call("Move"); err != nil {
		return err
	}
	return f.Driver.Move(ctx, sourcePath, destPath)
}

func (f *Driver) Delete(ctx context.Context, path string) error {
	if err := f.call("Delete"); err != nil {
		return err
	}
	return f.Driver.Delete(ctx, path)
}

func (f *Driver) RedirectURL(r *http.Request, path string) (string, error) {
	if err := f.call("RedirectURL"); err != nil {
		return "", err
	}
	return f.Driver.RedirectURL(r, path)
}

func (f *Driver) Walk(ctx context.Context, path string, fn driver.WalkFn, options ...func(*driver.WalkOptions)) error {
	if err := f.call("Walk"); err != nil {
		return err
	}
	return f.Driver.Walk(ctx, path, fn, options...)
}

func (f *Driver) Sweep(ctx context.Context, olderThan time.Duration) error {
	if err := f.call("Sweep"); err != nil {
		return err
	}
	return wrap.Sweep(ctx, f.Driver, olderThan)
}

func (f *Driver) As(target any) bool { return wrap.As(f.Driver, target) }
