package conformance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/replica"
)

// testProcesses runs instances in other OS processes (replicas, see
// Replica), as registry replicas on several hosts do.
func (s *suite) testProcesses(t *testing.T) {
	t.Run("URLOpensSameBackend", func(t *testing.T) {
		e := s.env(t)
		if s.h.URL == "" || s.h.Registry == nil {
			t.Skip("Harness.URL or Harness.Registry is empty")
		}
		u, err := s.h.Registry.Open(e.ctx, s.h.URL)
		must(t, err, "Registry.Open(Harness.URL)")
		e.put(e.d, e.p("a"), []byte("from New"))
		e.wantContent(u, e.p("a"), []byte("from New"))
		e.put(u, e.p("b"), []byte("from URL"))
		e.wantContent(e.fresh(), e.p("b"), []byte("from URL"))
	})
	t.Run("CrossProcess_RoundTrip", func(t *testing.T) {
		e := s.env(t)
		e.crossProcess()
		r := e.replica()
		e.put(e.d, e.p("a"), e.payload(0, 5000))
		rep, err := r.Do(e.ctx, replica.Request{Op: "get", Path: e.p("a")})
		must(t, err, "replica get")
		if rep.Digest != replica.Digest(e.payload(0, 5000)) {
			t.Errorf("replica reads %d bytes (sha256 %.12s) of what the parent wrote", rep.Size, rep.Digest)
		}
		_, err = r.Do(e.ctx, replica.Request{Op: "put", Path: e.p("b"), Content: e.content(1, 7000)})
		must(t, err, "replica put")
		e.wantContent(e.fresh(), e.p("b"), e.payload(1, 7000))
		rep, err = r.Do(e.ctx, replica.Request{Op: "list", Path: e.dir})
		must(t, err, "replica list")
		if !slices.Equal(rep.Paths, []string{e.p("a"), e.p("b")}) {
			t.Errorf("replica lists %q", rep.Paths)
		}
		_, err = r.Do(e.ctx, replica.Request{Op: "delete", Path: e.p("b")})
		must(t, err, "replica delete")
		e.wantAbsent(e.fresh(), e.p("b"))
		_, err = r.Do(e.ctx, replica.Request{Op: "stat", Path: e.p("b")})
		wantKind(t, err, driver.ErrNotFound, "replica stat of a deleted path")
		must(t, r.Wait(), "replica exit")
	})
	t.Run("CrossProcess_CloseInOneResumeInOther", func(t *testing.T) {
		e := s.env(t)
		e.crossProcess()
		p := e.p("uploads", "data")
		first, tail, second := e.content(0, 2*mib+1), replica.Content{Data: []byte("closing bytes")}, e.content(1, mib+5)
		a := e.replica()
		h := e.do(a, replica.Request{Op: "writer-open", Path: p}).Handle
		e.do(a, replica.Request{Op: "write", Handle: h, Content: first})
		e.do(a, replica.Request{Op: "write", Handle: h, Content: tail})
		e.do(a, replica.Request{Op: "close", Handle: h})
		must(t, a.Kill(), "kill -9 of process A") // nothing acknowledged may live only in A
		b := e.replica()
		rep := e.do(b, replica.Request{Op: "writer-open", Path: p, Append: true})
		if want := first.N + int64(len(tail.Data)); rep.Size != want {
			t.Fatalf("process B resumed at Size %d, want %d", rep.Size, want)
		}
		e.do(b, replica.Request{Op: "write", Handle: rep.Handle, Content: second})
		e.do(b, replica.Request{Op: "commit", Handle: rep.Handle})
		must(t, b.Wait(), "process B exit")
		want := slices.Concat(first.Bytes(), tail.Data, second.Bytes())
		got, err := readAll(e.fresh().Reader(e.ctx, p, 0))
		must(t, err, "Reader")
		if replica.Digest(got) != replica.Digest(want) {
			t.Errorf("committed upload: %s", diff(got, want))
		}
	})
	t.Run("CrossProcess_Fencing", func(t *testing.T) {
		e := s.env(t)
		e.crossProcess()
		p := e.p("data")
		a, b := e.replica(), e.replica()
		h := e.do(a, replica.Request{Op: "writer-open", Path: p}).Handle
		e.do(a, replica.Request{Op: "write", Handle: h, Content: e.content(0, 10*kib)})
		e.do(a, replica.Request{Op: "close", Handle: h})
		h = e.do(a, replica.Request{Op: "writer-open", Path: p, Append: true}).Handle
		e.do(a, replica.Request{Op: "write", Handle: h, Content: e.content(1, 10*kib)})
		rep := e.do(b, replica.Request{Op: "writer-open", Path: p, Append: true})
		if rep.Size != 10*kib {
			t.Errorf("process B resumed at Size %d, want %d", rep.Size, 10*kib)
		}
		e.do(b, replica.Request{Op: "write", Handle: rep.Handle, Content: e.content(2, 5)})
		_, err := a.Do(e.ctx, replica.Request{Op: "close", Handle: h})
		e.conflict(err, "Close in process A after process B took the upload over")
		e.do(b, replica.Request{Op: "commit", Handle: rep.Handle})
		e.wantContent(e.fresh(), p, slices.Concat(e.payload(0, 10*kib), e.payload(2, 5)))
	})
	t.Run("CrossProcess_ConcurrentMove", func(t *testing.T) {
		e := s.env(t)
		e.crossProcess()
		rs := []*replica.Process{e.replica(), e.replica()}
		for round := range 5 {
			src, dst := e.p("up", fmt.Sprint(round)), e.p("blob", fmt.Sprint(round))
			data := e.payload(round, 100*kib)
			e.put(e.d, src, data)
			errs := make([]error, len(rs))
			barrier(
				func() { _, errs[0] = rs[0].Do(e.ctx, replica.Request{Op: "move", Path: src, Dest: dst}) },
				func() { _, errs[1] = rs[1].Do(e.ctx, replica.Request{Op: "move", Path: src, Dest: dst}) },
			)
			won := 0
			for _, err := range errs {
				if err == nil {
					won++
				} else if !errors.Is(err, driver.ErrNotFound) {
					t.Errorf("round %d: losing Move: %v, want ErrNotFound", round, err)
				}
			}
			if won != 1 {
				t.Errorf("round %d: %d of 2 processes' Moves succeeded (%v)", round, won, errs)
			}
			e.wantContent(e.fresh(), dst, data)
			e.wantAbsent(e.fresh(), src)
		}
	})
}

// do runs a replica command that must succeed.
func (e *env) do(r *replica.Process, req replica.Request) replica.Reply {
	e.t.Helper()
	rep, err := r.Do(e.ctx, req)
	must(e.t, err, "replica %s %s", req.Op, req.Path)
	return rep
}

// testF11 covers F11: a process killed with SIGKILL in the middle of
// PutContent leaves the old content or the new, whole, and nothing else
// visible.
func (s *suite) testF11(t *testing.T) {
	e := s.env(t)
	e.crossProcess()
	p := e.p("link")
	a, b := e.content(0, 64*kib+1), e.content(1, 200*kib+3)
	pa, pb := a.Bytes(), b.Bytes()
	e.put(e.d, p, pa)
	rng := rand.New(rand.NewPCG(e.seed, 11))
	for round := range 5 {
		r := e.replica()
		after := 1 + rng.IntN(30)
		_, err := r.Do(e.ctx, replica.Request{Op: "put-loop", Path: p, Loop: []replica.Content{b, a}, After: after})
		must(t, err, "put-loop")
		// The loop is running; a random pause picks the moment of the kill.
		// Every moment is valid, so this is no synchronisation.
		time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
		must(t, r.Kill(), "kill -9")
		d := e.fresh()
		got := e.get(d, p)
		if which(got, pa, pb) < 0 {
			t.Errorf("round %d: after kill -9 during PutContent the content is %s", round, describe(got, pa, pb))
		}
		list, err := d.List(e.ctx, e.dir)
		must(t, err, "List")
		walked := e.walk(d, e.dir)
		if !slices.Equal(list, []string{p}) || !slices.Equal(walked, []string{p}) {
			t.Errorf("round %d: after kill -9 during PutContent, List = %q and Walk = %q, want only %s", round, list, walked, p)
		}
		for _, v := range e.visible() {
			if v != Root && !driver.IsUnder(v, e.dir) {
				t.Errorf("round %d: after kill -9 during PutContent, Walk(/) shows %s", round, v)
			}
		}
	}
	left := e.s.newLeftovers(e.ctx, t, false)
	if len(left) == 0 {
		return
	}
	// A killed process cannot clean up after itself: report what it left,
	// then let the driver's sweep reclaim it, which it must.
	t.Logf("F11 finding: processes killed during PutContent left backend resources behind: %s", short(left))
	sw, ok := e.d.(interface {
		Sweep(ctx context.Context, olderThan time.Duration) error
	})
	if !ok {
		t.Errorf("F11: the driver has no Sweep to reclaim what killed processes left: %s", short(left))
		return
	}
	must(t, sw.Sweep(e.ctx, 0), "Sweep")
	if left := e.s.newLeftovers(e.ctx, t, true); len(left) > 0 {
		t.Errorf("F11: Sweep did not reclaim what processes killed during PutContent left: %s", short(left))
	}
}
