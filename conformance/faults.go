package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/faultnet"
)

// stallTimeout is how long a call waits on a stalled connection: the
// client's timeout, set by the test through the call's context.
const stallTimeout = 1500 * time.Millisecond

// hangLimit bounds a call without a context (Writer.Close) on a faulty
// connection; past it the test reports a hang and closes the proxies.
const hangLimit = 90 * time.Second

// testF5 covers F5 (and CONTRACT 10): a response lost after the backend
// acted, or a connection reset in the middle of a request, on each
// mutating request of PutContent, a resumed push (Writer, Write, Close,
// Commit), Move and Delete in turn. Whatever the call returns, the backend
// holds exactly the bytes of the acknowledged steps, never a duplicated or
// dropped chunk: a resume on a clean instance continues at a durable size,
// and the pushed content is exact.
func (s *suite) testF5(t *testing.T) {
	for _, action := range []faultnet.Action{faultnet.DropResponse, faultnet.ResetRequest} {
		t.Run(action.String(), func(t *testing.T) {
			e := s.env(t)
			f := e.faults()
			rng := e.rng(5)
			k := 4
			runs := 0
			for _, c := range faultCases(e) {
				d := f.open()
				dry := "dry-" + c.name
				c.setup(e, dry, d)
				n := f.count(mutating)
				st := c.run(e, dry, d, e.ctx)
				total := n()
				f.clear()
				if st.err != nil {
					t.Fatalf("%s without faults: %v", c.name, st.err)
				}
				c.check(e, dry, st)
				for _, i := range sample(rng, total, k) {
					name := fmt.Sprintf("%s-%s-%d", c.name, action, i)
					d := f.open()
					c.setup(e, name, d)
					fired := f.nth(i, 1, action, 0, mutating)
					st := c.run(e, name, d, e.ctx)
					f.clear()
					st.fired = fired()
					c.check(e, name, st)
					runs++
				}
			}
			t.Logf("F5: %d runs, one %s each on a mutating request", runs, action)
		})
	}
	t.Run("latency", func(t *testing.T) {
		e := s.env(t)
		f := e.faults()
		d := f.open()
		f.nth(1, 1<<30, faultnet.Delay, 20*time.Millisecond, anyRequest)
		for _, c := range faultCases(e) {
			run := "slow-" + c.name
			c.setup(e, run, d)
			st := c.run(e, run, d, e.ctx)
			if st.err != nil {
				t.Errorf("%s: with 20 ms added to every request: %v", c.name, st.err)
			}
			c.check(e, run, st)
		}
	})
}

// faultRun is what one run under faults did.
type faultRun struct {
	done  int   // steps that returned success
	err   error // the first failure
	fired []faultnet.Fired
	chaos string // the faults of a chaos run, which fired has none of
}

// faultCase is an operation sequence with its setup and its check.
type faultCase struct {
	name  string
	setup func(e *env, run string, d driver.Driver)
	run   func(e *env, run string, d driver.Driver, ctx context.Context) *faultRun
	// check verifies the backend on clean instances after run (st nil: a
	// run without faults, which must have succeeded).
	check func(e *env, run string, st *faultRun)
}

// faultCases are the calls of a push and of a registry's housekeeping.
func faultCases(e *env) []faultCase {
	old, put := e.payload(0, 10*kib), e.payload(1, mib+3)
	a, b, c := e.payload(2, mib+7), e.payload(3, 5*mib+3), e.payload(4, 3*kib)
	src, moveOld := e.payload(5, 300*kib), e.payload(6, 10)
	return []faultCase{{
		name:  "PutContent",
		setup: func(e *env, run string, _ driver.Driver) { e.put(e.fresh(), e.p(run, "link"), old) },
		run: func(e *env, run string, d driver.Driver, ctx context.Context) *faultRun {
			return steps(func() error { return d.PutContent(ctx, e.p(run, "link"), put) })
		},
		check: func(e *env, run string, st *faultRun) {
			got := e.get(e.fresh(), e.p(run, "link"))
			switch {
			case st == nil || st.err == nil:
				sameBytes(e.t, got, put, "%s: PutContent succeeded (%s)", run, st.faults())
			case which(got, old, put) < 0:
				e.t.Errorf("%s: after a failed PutContent (%v; %s) the content is %s", run, st.err, st.faults(), describe(got, old, put))
			}
		},
	}, {
		name: "Push",
		setup: func(e *env, run string, _ driver.Driver) {
			w := e.writer(e.fresh(), e.p(run, "up"), false)
			e.write(w, a)
			must(e.t, w.Close(), "Close")
		},
		run: func(e *env, run string, d driver.Driver, ctx context.Context) *faultRun {
			p := e.p(run, "up")
			var w driver.FileWriter
			return steps(
				func() (err error) { w, err = d.Writer(ctx, p, true); return err },
				func() error { return writeChunks(w, b, 256*kib) },
				func() error { return e.closeBounded(w) },
				func() (err error) { w, err = d.Writer(ctx, p, true); return err },
				func() error { return writeChunks(w, c, 256*kib) },
				func() error { return w.Commit(ctx) },
			)
		},
		check: func(e *env, run string, st *faultRun) {
			durable := []int64{int64(len(a))}
			if st != nil && st.done == 2 { // Close failed: it may have acted
				durable = append(durable, int64(len(a)+len(b)))
			} else if st != nil && st.done >= 3 {
				durable = []int64{int64(len(a) + len(b))}
			}
			e.finishPush(run, e.p(run, "up"), slices.Concat(a, b, c), durable, st, 5)
		},
	}, {
		name: "Move",
		setup: func(e *env, run string, _ driver.Driver) {
			e.put(e.fresh(), e.p(run, "src"), src)
			e.put(e.fresh(), e.p(run, "dst"), moveOld)
		},
		run: func(e *env, run string, d driver.Driver, ctx context.Context) *faultRun {
			return steps(func() error { return d.Move(ctx, e.p(run, "src"), e.p(run, "dst")) })
		},
		check: func(e *env, run string, st *faultRun) {
			d := e.fresh()
			if st != nil && st.err != nil {
				got := e.get(d, e.p(run, "dst"))
				if which(got, moveOld, src) < 0 {
					e.t.Errorf("%s: after a failed Move (%v; %s) the destination is %s", run, st.err, st.faults(), describe(got, moveOld, src))
				}
				// The caller retries; it must finish the move or find it done.
				if err := d.Move(e.ctx, e.p(run, "src"), e.p(run, "dst")); err != nil && !errors.Is(err, driver.ErrNotFound) {
					e.t.Errorf("%s: Move retried on a clean instance after a failed one (%v; %s): %v", run, st.err, st.faults(), err)
				}
			}
			e.wantContent(d, e.p(run, "dst"), src)
			e.wantAbsent(d, e.p(run, "src"))
		},
	}, {
		name: "Delete",
		setup: func(e *env, run string, _ driver.Driver) {
			d := e.fresh()
			for _, p := range []string{"dir/a", "dir/b/c", "dirx"} {
				e.put(d, e.p(run, p), e.payload(7, 100))
			}
			w := e.writer(d, e.p(run, "dir", "up"), false)
			e.write(w, e.payload(8, 1000))
			must(e.t, w.Close(), "Close")
		},
		run: func(e *env, run string, d driver.Driver, ctx context.Context) *faultRun {
			return steps(func() error { return d.Delete(ctx, e.p(run, "dir")) })
		},
		check: func(e *env, run string, st *faultRun) {
			d := e.fresh()
			if st != nil && st.err != nil {
				if err := d.Delete(e.ctx, e.p(run, "dir")); err != nil && !errors.Is(err, driver.ErrNotFound) {
					e.t.Errorf("%s: Delete retried on a clean instance after a failed one (%v; %s): %v", run, st.err, st.faults(), err)
				}
			}
			for _, p := range []string{"dir/a", "dir/b/c", "dir/up"} {
				e.wantAbsent(d, e.p(run, p))
			}
			_, err := d.Writer(e.ctx, e.p(run, "dir", "up"), true)
			wantKind(e.t, err, driver.ErrNotFound, "%s: resume of an upload under a deleted directory", run)
			e.wantContent(d, e.p(run, "dirx"), e.payload(7, 100))
		},
	}}
}

func (st *faultRun) faults() string {
	if st == nil {
		return "no fault"
	}
	if st.chaos != "" {
		return st.chaos
	}
	return firedString(st.fired)
}

// steps runs fns in order until one fails.
func steps(fns ...func() error) *faultRun {
	st := &faultRun{}
	for _, fn := range fns {
		if st.err = fn(); st.err != nil {
			return st
		}
		st.done++
	}
	return st
}

func writeChunks(w driver.FileWriter, b []byte, chunk int) error {
	for c := range slices.Chunk(b, chunk) {
		n, err := w.Write(c)
		if err != nil {
			return err
		}
		if n != len(c) {
			return fmt.Errorf("short write: %d of %d bytes", n, len(c))
		}
	}
	return nil
}

// closeBounded calls Close, which takes no context, and reports a hang
// instead of waiting forever on a connection that never answers.
func (e *env) closeBounded(w driver.FileWriter) error {
	done := make(chan error, 1)
	go func() { done <- w.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(hangLimit):
		e.t.Errorf("Writer.Close did not return within %v on a faulty connection: it has no context, so the driver must time out itself", hangLimit)
		return fmt.Errorf("Close hung")
	}
}

// finishPush checks an upload at p after a run that pushed want in steps:
// a clean instance resumes it at one of the durable sizes (the last Close
// acknowledged, or one a failed Close may have made), writes the rest and
// commits, and the content is exactly want. A run whose step commitStep
// (Commit) failed may also have committed: then the upload is gone and p
// holds want.
func (e *env) finishPush(run, p string, want []byte, durable []int64, st *faultRun, commitStep int) {
	e.t.Helper()
	d := e.fresh()
	if st != nil && st.err == nil && st.done > commitStep {
		e.wantContent(d, p, want)
		return
	}
	w, err := d.Writer(e.ctx, p, true)
	if errors.Is(err, driver.ErrNotFound) && st != nil && st.done == commitStep {
		got, gerr := d.GetContent(e.ctx, p)
		if gerr != nil {
			e.t.Errorf("%s: Commit failed (%v; %s) and the upload is gone, but the content is not there: %v", run, st.err, st.faults(), gerr)
			return
		}
		sameBytes(e.t, got, want, "%s: Commit failed (%v; %s) but committed", run, st.err, st.faults())
		return
	}
	if err != nil {
		e.t.Errorf("%s: resume on a clean instance after %s (step %d failed: %v): %v", run, st.faults(), st.done, st.err, err)
		return
	}
	size := w.Size()
	if !slices.Contains(durable, size) {
		e.t.Errorf("%s: resume on a clean instance after %s (step %d failed: %v) at Size %d, want one of %v (the durable sizes)", run, st.faults(), st.done, st.err, size, durable)
		_ = w.Cancel(e.ctx)
		return
	}
	e.write(w, want[size:])
	must(e.t, w.Commit(e.ctx), "%s: Commit on a clean instance", run)
	got, err := readAll(d.Reader(e.ctx, p, 0))
	must(e.t, err, "%s: Reader", run)
	sameBytes(e.t, got, want, "%s: content pushed through %s, finished on a clean instance", run, st.faults())
}

// testF15 covers F15: a fault on the requests that open a writer, a new
// one on a path that holds a committed blob, or a resume of a durable
// upload, never truncates or resets either: the blob reads whole, and the
// upload resumes at its durable size with its bytes.
func (s *suite) testF15(t *testing.T) {
	e := s.env(t)
	f := e.faults()
	rng := e.rng(15)
	blob, durable := e.payload(0, 200*kib+1), e.payload(1, mib+5)
	setup := func(run string) {
		e.put(e.fresh(), e.p(run, "blob"), blob)
		w := e.writer(e.fresh(), e.p(run, "up"), false)
		e.write(w, durable)
		must(t, w.Close(), "Close")
	}
	open := func(run string, d driver.Driver, ctx context.Context) *faultRun {
		var w driver.FileWriter
		return steps(
			func() (err error) { w, err = d.Writer(ctx, e.p(run, "up"), true); return err },
			func() error {
				if w.Size() != int64(len(durable)) {
					return fmt.Errorf("resumed at Size %d, want %d", w.Size(), len(durable))
				}
				return nil
			},
			func() (err error) { _, err = d.Writer(ctx, e.p(run, "blob"), false); return err },
		)
	}
	check := func(run string, st *faultRun) {
		d := e.fresh()
		e.wantContent(d, e.p(run, "blob"), blob)
		if st != nil && st.done == 1 {
			t.Errorf("%s: a writer opened under %s: %v", run, st.faults(), st.err)
		}
		w := e.writer(d, e.p(run, "up"), true)
		wantSize(t, w, int64(len(durable)), run+": clean resume after "+st.faults())
		if w.Size() != int64(len(durable)) {
			return
		}
		must(t, w.Commit(e.ctx), "%s: Commit", run)
		e.wantContent(d, e.p(run, "up"), durable)
		// The blob path's new upload, if it was opened, stays an upload.
		e.wantContent(d, e.p(run, "blob"), blob)
		must(t, d.Delete(e.ctx, e.p(run)), "Delete")
	}
	d := f.open()
	setup("dry")
	n := f.count(anyRequest)
	if st := open("dry", d, e.ctx); st.err != nil {
		t.Fatalf("without faults: %v", st.err)
	}
	total := n()
	f.clear()
	check("dry", &faultRun{})
	runs := 0
	for _, action := range []faultnet.Action{faultnet.DropResponse, faultnet.ResetRequest, faultnet.Stall, faultnet.Delay} {
		k := 3
		if action == faultnet.Stall {
			k = 2 // each costs stallTimeout
		}
		for _, i := range sample(rng, total, k) {
			run := fmt.Sprintf("%s-%d", action, i)
			d := f.open()
			setup(run)
			fired := f.nth(i, 1, action, 300*time.Millisecond, anyRequest)
			ctx, cancel := context.WithTimeout(e.ctx, stallTimeout)
			if action != faultnet.Stall {
				ctx, cancel = context.WithCancel(e.ctx)
			}
			st := open(run, d, ctx)
			cancel()
			f.clear()
			st.fired = fired()
			check(run, st)
			runs++
		}
	}
	t.Logf("F15: %d runs over %d requests of opening writers, one fault each", runs, total)
}

// testF20 covers F20: the connections of a large write are cut in the
// middle of a request body, once (a retry may recover) or every time (the
// write fails); either way another instance resumes at a durable size and
// finishes with exact bytes. A large read cut in the middle returns an
// error or the whole content, never a short one as if complete.
func (s *suite) testF20(t *testing.T) {
	big := 16*mib + 11
	if longMode() {
		big = 64*mib + 11
	}
	for _, c := range []struct {
		name  string
		times int
	}{{"CutOnce", 1}, {"CutAlways", 1 << 30}} {
		t.Run(c.name, func(t *testing.T) {
			e := s.env(t)
			f := e.faults()
			rng := e.rng(20)
			a, b := e.payload(0, mib+7), e.payload(1, big)
			p := e.p("up")
			w := e.writer(e.fresh(), p, false)
			e.write(w, a)
			must(t, w.Close(), "Close")
			d := f.open()
			nth := 1 + rng.IntN(3)
			fired := f.nth(nth, c.times, faultnet.ResetRequest, 0, largeRequest)
			var fw driver.FileWriter
			st := steps(
				func() (err error) { fw, err = d.Writer(e.ctx, p, true); return err },
				func() error { return writeChunks(fw, b, 256*kib) },
				func() error { return e.closeBounded(fw) },
			)
			f.clear()
			st.fired = fired()
			if len(st.fired) == 0 {
				t.Fatalf("no large request was cut (the %d-th was to be)", nth)
			}
			if c.times == 1 && st.err != nil {
				t.Logf("one cut request failed the write (a retry may not recover): %v", st.err)
			}
			if c.times > 1 && st.err == nil {
				t.Errorf("every large request was cut, yet the write succeeded (%s)", st.faults())
			}
			durable := []int64{int64(len(a))}
			if st.done >= 3 {
				durable = []int64{int64(len(a) + len(b))}
			} else if st.done == 2 {
				durable = append(durable, int64(len(a)+len(b)))
			}
			e.finishPush(c.name, p, slices.Concat(a, b), durable, st, 99)
			t.Logf("F20: %d cuts (%s ...), write %v", len(st.fired), st.fired[0].Request, st.err)

			// A read of the large object, cut in the middle of the body.
			want := slices.Concat(a, b)
			reads := []func() ([]byte, error){
				func() ([]byte, error) { return readAll(d.Reader(e.ctx, p, 0)) },
				func() ([]byte, error) { return d.GetContent(e.ctx, p) },
			}
			for i, read := range reads {
				fired := f.nth(1, 1, faultnet.CutResponse, 0, reading)
				got, err := read()
				f.clear()
				switch {
				case len(fired()) == 0:
					t.Errorf("read %d: no GET was cut", i)
				case err != nil:
					t.Logf("read %d cut (%s): %v", i, firedString(fired()), err)
				default:
					sameBytes(t, got, want, "read %d cut in the middle (%s) returned no error", i, firedString(fired()))
				}
			}
		})
	}
}
