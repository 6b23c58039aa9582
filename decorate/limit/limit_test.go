package limit

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/berthio/berth/decorate/internal/fake"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
)

func cancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

// full asserts that every slot is taken: a call on a cancelled context
// fails with context.Canceled without reaching the driver.
func full(t *testing.T, f *fake.Driver, x *Driver) {
	t.Helper()
	before := f.Calls("Stat")
	_, err := x.Stat(cancelled(t), "/")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Stat with every slot taken: err = %v, want context.Canceled", err)
	}
	var de *driver.Error
	if !errors.As(err, &de) || de.Op != "Stat" {
		t.Errorf("err %v is not a *driver.Error for Stat", err)
	}
	if f.Calls("Stat") != before {
		t.Errorf("Stat reached the driver with every slot taken")
	}
}

// notFull asserts that a slot is free.
func notFull(t *testing.T, x *Driver) {
	t.Helper()
	if _, err := x.Stat(t.Context(), "/"); err != nil {
		t.Fatalf("Stat with a free slot: %v", err)
	}
}

// Many goroutines, n slots: never more than n calls inside the driver, and
// n at once is reached.
func TestBoundsConcurrency(t *testing.T) {
	const n, callers = 3, 24
	var inside, peak atomic.Int64
	entered := make(chan struct{})
	release := make(chan struct{})
	f := &fake.Driver{Driver: memory.New(memory.NewShared()), Enter: func(op string) {
		if op != "GetContent" {
			return
		}
		now := inside.Add(1)
		for {
			p := peak.Load()
			if now <= p || peak.CompareAndSwap(p, now) {
				break
			}
		}
		entered <- struct{}{}
		<-release
		inside.Add(-1)
	}}
	x := New(f, n)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() { x.GetContent(t.Context(), "/missing") })
	}
	for range n {
		<-entered
	}
	if got := x.InUse(); got != n {
		t.Errorf("InUse = %d with %d calls held, want %d", got, n, n)
	}
	full(t, f, x)
	for i := range callers {
		release <- struct{}{}
		if i < callers-n {
			<-entered
		}
	}
	wg.Wait()
	if p := peak.Load(); p != n {
		t.Errorf("peak concurrency inside the driver = %d, want %d", p, n)
	}
	if got := x.InUse(); got != 0 {
		t.Errorf("InUse = %d after every call returned", got)
	}
}

// Readers hold their slot until Close, and keep io.WriterTo where the
// driver's reader has it.
func TestReaderHoldsSlotUntilClose(t *testing.T) {
	ctx := t.Context()
	f := &fake.Driver{Driver: memory.New(memory.NewShared())}
	if err := f.PutContent(ctx, "/r", []byte("data")); err != nil {
		t.Fatal(err)
	}
	x := New(f, 2)
	r1, err := x.Reader(ctx, "/r", 0)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := x.ReadRange(ctx, "/r", 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r1.(io.WriterTo); !ok {
		t.Errorf("reader %T lost io.WriterTo", r1)
	}
	full(t, f, x)
	if _, err := io.ReadAll(r1); err != nil {
		t.Fatal(err)
	}
	full(t, f, x) // reading to EOF does not give the slot back
	r1.Close()
	r1.Close() // a second Close gives nothing back twice
	if got := x.InUse(); got != 1 {
		t.Fatalf("InUse = %d after closing one of two readers twice, want 1", got)
	}
	notFull(t, x)
	r2.Close()
	if got := x.InUse(); got != 0 {
		t.Errorf("InUse = %d after closing both", got)
	}
	// A failed open gives its slot back.
	if _, err := x.Reader(ctx, "/missing", 0); !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	if got := x.InUse(); got != 0 {
		t.Errorf("InUse = %d after a failed open", got)
	}
}

// Writers hold their slot until Close, a successful Commit or Cancel; a
// failed Commit keeps it.
func TestWriterHoldsSlot(t *testing.T) {
	ctx := t.Context()
	errCommit := errors.New("commit failed")
	f := &fake.Driver{Driver: memory.New(memory.NewShared()), Fail: func(op string, n int) error {
		if op == "Writer.Commit" && n == 1 {
			return errCommit
		}
		return nil
	}}
	x := New(f, 1)
	w, err := x.Writer(ctx, "/w", false)
	if err != nil {
		t.Fatal(err)
	}
	full(t, f, x)
	if _, err := w.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); !errors.Is(err, errCommit) {
		t.Fatalf("Commit = %v", err)
	}
	full(t, f, x)
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	notFull(t, x)
	if err := w.Close(); err != nil { // after Commit: nil, and no second release
		t.Fatal(err)
	}
	if got := x.InUse(); got != 0 {
		t.Fatalf("InUse = %d", got)
	}

	// Close gives the slot back; a Cancel after it takes one for itself.
	w, err = x.Writer(ctx, "/w2", false)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	notFull(t, x)
	if err := w.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if got := x.InUse(); got != 0 {
		t.Errorf("InUse = %d after Close and Cancel", got)
	}

	// A cancelled context waiting for a slot never opens the writer.
	w, err = x.Writer(ctx, "/w3", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Writer(cancelled(t), "/w4", false); !errors.Is(err, context.Canceled) {
		t.Errorf("Writer on a full limit and cancelled context: %v", err)
	}
	if err := w.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	notFull(t, x)
	if got := f.Calls("Writer"); got != 3 {
		t.Errorf("Writer reached the driver %d times, want 3", got)
	}
}

func TestKeepsCapabilities(t *testing.T) {
	caps := driver.Capabilities{Listing: driver.Eventual, Redirect: true, MaxObjectSize: 7, SharedAcrossProcesses: true}
	x := New(&fake.Driver{Driver: memory.New(memory.NewShared()), Caps: &caps}, 1)
	if x.Capabilities() != caps {
		t.Errorf("Capabilities = %+v, want %+v", x.Capabilities(), caps)
	}
}

func TestPanicsOnZero(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(d, 0) did not panic")
		}
	}()
	New(memory.New(memory.NewShared()), 0)
}
