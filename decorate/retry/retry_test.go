package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/berthio/berth/decorate/internal/fake"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
)

// errFlaky is what a network failure looks like to the decorator: an error
// of no driver kind.
var errFlaky = errors.New("connection reset by peer")

// harness returns the fake over a memory driver, the retrying driver over
// it, and the delays the retrying driver slept.
func harness(t *testing.T, fail func(op string, n int) error, opts *Options) (*fake.Driver, *Driver, *[]time.Duration) {
	t.Helper()
	f := &fake.Driver{Driver: memory.New(memory.NewShared()), Fail: fail}
	x := New(f, opts)
	var slept []time.Duration
	x.sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		return ctx.Err()
	}
	return f, x, &slept
}

// failFirst fails the first n calls of op with err.
func failFirst(op string, n int, err error) func(string, int) error {
	return func(o string, i int) error {
		if o == op && i <= n {
			return err
		}
		return nil
	}
}

func TestTransientRetriedUntilSuccess(t *testing.T) {
	ctx := t.Context()
	f, x, slept := harness(t, failFirst("Stat", 2, errFlaky), nil)
	if err := f.Driver.PutContent(ctx, "/a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	fi, err := x.Stat(ctx, "/a")
	if err != nil {
		t.Fatalf("Stat after two transient failures: %v", err)
	}
	if fi.Size() != 1 {
		t.Errorf("size %d, want 1", fi.Size())
	}
	if got := f.Calls("Stat"); got != 3 {
		t.Errorf("Stat attempts = %d, want 3", got)
	}
	if len(*slept) != 2 {
		t.Fatalf("slept %d times, want 2", len(*slept))
	}
	for i, d := range *slept {
		base := DefaultInitialBackoff << i
		if d < base/2 || d > base {
			t.Errorf("delay %d = %v, want within [%v, %v]", i+1, d, base/2, base)
		}
	}
}

func TestBoundedAttempts(t *testing.T) {
	always := func(op string, n int) error {
		if op == "GetContent" {
			return errFlaky
		}
		return nil
	}
	f, x, slept := harness(t, always, &Options{MaxAttempts: 5})
	_, err := x.GetContent(t.Context(), "/a")
	if !errors.Is(err, errFlaky) {
		t.Fatalf("err = %v, want the last attempt's error", err)
	}
	if got := f.Calls("GetContent"); got != 5 {
		t.Errorf("attempts = %d, want MaxAttempts 5", got)
	}
	if len(*slept) != 4 {
		t.Errorf("slept %d times, want 4", len(*slept))
	}
}

func TestPermanentKindsNotRetried(t *testing.T) {
	kinds := []error{
		driver.ErrNotFound, driver.ErrInvalidPath, driver.ErrInvalidOffset, driver.ErrConflict,
		driver.ErrTooLarge, driver.ErrUnsupported, driver.ErrPermission, driver.ErrInvalidConfig,
		driver.ErrClosed, context.Canceled, context.DeadlineExceeded,
	}
	for _, kind := range kinds {
		t.Run(kind.Error(), func(t *testing.T) {
			// As the Store returns them: wrapped once, the cause behind.
			err := &driver.Error{Driver: "fake", Op: "GetContent", Path: "/a", Kind: driver.KindOf(kind), Err: fmt.Errorf("backend: %w", kind)}
			f, x, slept := harness(t, failFirst("GetContent", 100, err), nil)
			_, got := x.GetContent(t.Context(), "/a")
			if got != err {
				t.Errorf("err = %v, want the driver's error unchanged", got)
			}
			if n := f.Calls("GetContent"); n != 1 {
				t.Errorf("attempts = %d, want 1 (permanent)", n)
			}
			if len(*slept) != 0 {
				t.Errorf("slept %v", *slept)
			}
		})
	}
}

func TestNoRetryOnCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	f, x, slept := harness(t, failFirst("Stat", 100, errFlaky), nil)
	if _, err := x.Stat(ctx, "/a"); !errors.Is(err, errFlaky) {
		t.Fatalf("err = %v", err)
	}
	if n := f.Calls("Stat"); n != 1 {
		t.Errorf("attempts on a cancelled context = %d, want 1", n)
	}
	if len(*slept) != 0 {
		t.Errorf("slept %v on a cancelled context", *slept)
	}
}

// A context cancelled during the backoff stops the retries at once, with
// both the last error and the cancellation reachable.
func TestCancelDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	f := &fake.Driver{Driver: memory.New(memory.NewShared()), Fail: failFirst("List", 100, errFlaky)}
	x := New(f, &Options{InitialBackoff: time.Hour, MaxBackoff: time.Hour,
		OnRetry: func(op, path string, attempt int, err error, delay time.Duration) { cancel() }})
	_, err := x.List(ctx, "/")
	if !errors.Is(err, errFlaky) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want both the transient error and context.Canceled", err)
	}
	if n := f.Calls("List"); n != 1 {
		t.Errorf("attempts = %d, want 1", n)
	}
}

func TestPutContentSendsWholeBodyEachAttempt(t *testing.T) {
	ctx := t.Context()
	f, x, _ := harness(t, failFirst("PutContent", 2, errFlaky), nil)
	body := bytes.Repeat([]byte("layer"), 1000)
	if err := x.PutContent(ctx, "/p", body); err != nil {
		t.Fatal(err)
	}
	puts := f.Puts()
	if len(puts) != 3 {
		t.Fatalf("attempts = %d, want 3", len(puts))
	}
	for i, p := range puts {
		if !bytes.Equal(p, body) {
			t.Errorf("attempt %d sent %d bytes, want the whole %d", i+1, len(p), len(body))
		}
	}
	got, err := x.GetContent(ctx, "/p")
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("GetContent = %d bytes, %v", len(got), err)
	}
}

// Writer and every FileWriter method are tried once, whatever the error.
func TestWriterNeverRetried(t *testing.T) {
	ctx := t.Context()
	f, x, _ := harness(t, failFirst("Writer", 1, errFlaky), nil)
	if _, err := x.Writer(ctx, "/w", false); !errors.Is(err, errFlaky) {
		t.Fatalf("Writer err = %v", err)
	}
	if n := f.Calls("Writer"); n != 1 {
		t.Errorf("Writer attempts = %d, want 1", n)
	}
	for _, op := range []string{"Writer.Write", "Writer.Close", "Writer.Commit", "Writer.Cancel"} {
		t.Run(op, func(t *testing.T) {
			f, x, _ := harness(t, failFirst(op, 1, errFlaky), nil)
			w, err := x.Writer(ctx, "/w", false)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := w.(*fake.Writer); !ok {
				t.Errorf("writer is %T: retry must hand out the driver's writer untouched", w)
			}
			switch op {
			case "Writer.Write":
				_, err = w.Write([]byte("abc"))
			case "Writer.Close":
				err = w.Close()
			case "Writer.Commit":
				err = w.Commit(ctx)
			case "Writer.Cancel":
				err = w.Cancel(ctx)
			}
			if !errors.Is(err, errFlaky) {
				t.Errorf("%s err = %v, want the transient error returned", op, err)
			}
			if n := f.Calls(op); n != 1 {
				t.Errorf("%s attempts = %d, want 1", op, n)
			}
			w.Cancel(ctx)
		})
	}
}

func TestMoveNotRetried(t *testing.T) {
	f, x, _ := harness(t, failFirst("Move", 1, errFlaky), nil)
	if err := x.Move(t.Context(), "/a", "/b"); !errors.Is(err, errFlaky) {
		t.Fatalf("err = %v", err)
	}
	if n := f.Calls("Move"); n != 1 {
		t.Errorf("Move attempts = %d, want 1", n)
	}
}

// The opening of a reader is retried; its reads are not, and the reader is
// the driver's own (io.WriterTo kept).
func TestReaderOpenRetriedReadsNot(t *testing.T) {
	ctx := t.Context()
	fail := func(op string, n int) error {
		switch {
		case op == "Reader" && n == 1:
			return errFlaky
		case op == "Reader.Read" && n == 2:
			return errFlaky
		}
		return nil
	}
	f, x, _ := harness(t, fail, nil)
	if err := f.Driver.PutContent(ctx, "/r", []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	rc, err := x.Reader(ctx, "/r", 0)
	if err != nil {
		t.Fatalf("Reader after one transient failure: %v", err)
	}
	defer rc.Close()
	if n := f.Calls("Reader"); n != 2 {
		t.Errorf("Reader attempts = %d, want 2", n)
	}
	if _, ok := rc.(io.WriterTo); !ok {
		t.Errorf("reader %T lost io.WriterTo", rc)
	}
	buf := make([]byte, 4)
	if n, err := rc.Read(buf); n != 4 || err != nil {
		t.Fatalf("first read = %d, %v", n, err)
	}
	if _, err := rc.Read(buf); !errors.Is(err, errFlaky) {
		t.Fatalf("second read err = %v, want the transient error, not a retry", err)
	}
	if n := f.Calls("Reader.Read"); n != 2 {
		t.Errorf("reads = %d, want 2", n)
	}
}

// Walk is retried while fn has not been called, and not once it has.
func TestWalkRetriedOnlyBeforeCallback(t *testing.T) {
	ctx := t.Context()
	f, x, _ := harness(t, failFirst("Walk", 1, errFlaky), nil)
	if err := f.Driver.PutContent(ctx, "/d/a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	var seen []string
	if err := x.Walk(ctx, "/", func(fi driver.FileInfo) error { seen = append(seen, fi.Path()); return nil }); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls("Walk"); n != 2 || len(seen) != 2 {
		t.Errorf("Walk attempts %d, seen %q; want 2 attempts and /d, /d/a once", n, seen)
	}

	// A walk failing after fn ran: a transient error from the callback's
	// side is returned, not retried, and fn saw each entry once.
	f, x, _ = harness(t, nil, nil)
	if err := f.Driver.PutContent(ctx, "/d/a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	seen = nil
	err := x.Walk(ctx, "/", func(fi driver.FileInfo) error {
		seen = append(seen, fi.Path())
		if len(seen) == 1 {
			return errFlaky
		}
		return nil
	})
	if !errors.Is(err, errFlaky) || len(seen) != 1 || f.Calls("Walk") != 1 {
		t.Errorf("err %v, seen %q, attempts %d; want errFlaky, one entry, one attempt", err, seen, f.Calls("Walk"))
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	initial, max := 100*time.Millisecond, 2*time.Second
	for attempt := 1; attempt <= 10; attempt++ {
		base := min(initial<<(attempt-1), max)
		for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
			d := Backoff(attempt, initial, max, r)
			if d < base/2 || d > base {
				t.Errorf("Backoff(%d, r=%v) = %v, want within [%v, %v]", attempt, r, d, base/2, base)
			}
		}
		if lo, hi := Backoff(attempt, initial, max, 0), Backoff(attempt, initial, max, 0.999999); hi-lo < base/2-time.Microsecond {
			t.Errorf("attempt %d: jitter spans only %v..%v", attempt, lo, hi)
		}
	}
	// The real source spreads the delays: replicas failing together must
	// not retry together.
	x := New(memory.New(memory.NewShared()), nil)
	seen := map[time.Duration]bool{}
	for range 100 {
		d := Backoff(3, initial, max, x.rand())
		if d < 200*time.Millisecond || d > 400*time.Millisecond {
			t.Fatalf("delay %v outside [200ms, 400ms]", d)
		}
		seen[d] = true
	}
	if len(seen) < 50 {
		t.Errorf("100 delays took only %d distinct values", len(seen))
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errFlaky, true},
		{&driver.Error{Op: "Stat", Err: errFlaky}, true},
		{&driver.Error{Op: "Stat", Kind: driver.ErrNotFound}, false},
		{fmt.Errorf("x: %w", driver.ErrConflict), false},
		{&driver.Error{Op: "Stat", Err: context.Canceled}, false},
		{context.DeadlineExceeded, false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestKeepsCapabilitiesAndSweep(t *testing.T) {
	caps := driver.Capabilities{Listing: driver.Eventual, Fencing: driver.FencingBestEffort, Redirect: true, MaxObjectSize: 42}
	f := &fake.Driver{Driver: memory.New(memory.NewShared()), Caps: &caps}
	x := New(f, nil)
	if x.Capabilities() != caps {
		t.Errorf("Capabilities = %+v, want %+v", x.Capabilities(), caps)
	}
	if err := x.Sweep(t.Context(), 0); err != nil || f.Calls("Sweep") != 1 {
		t.Errorf("Sweep: %v, %d calls", err, f.Calls("Sweep"))
	}
}
