package conformance

import (
	"errors"
	"slices"
	"testing"

	"github.com/berthio/berth/driver"
)

// testFencing tests CONTRACT 5: a second writer on an upload fences the
// first, whose next Close, Commit or Cancel is ErrConflict, and the
// committed content is exactly one writer's. Where fencing is declared
// best-effort the ErrConflict half is measured (logged), the rest asserted.
func (s *suite) testFencing(t *testing.T) {
	// takeover: P durable; A resumed on one instance and wrote a; then B
	// resumed on another, which fences A.
	type takeover struct {
		e       *env
		p, a, b []byte
		stale   driver.FileWriter // A
		live    driver.FileWriter // B
	}
	setup := func(t *testing.T) *takeover {
		e := s.env(t)
		k := &takeover{e: e, p: e.payload(0, 30*kib+1), a: e.payload(1, 20*kib+2), b: e.payload(2, 10*kib+3)}
		w := e.writer(e.fresh(), e.p("f"), false)
		e.write(w, k.p)
		must(t, w.Close(), "Close of the prefix")
		k.stale = e.writer(e.fresh(), e.p("f"), true)
		e.write(k.stale, k.a)
		k.live = e.writer(e.fresh(), e.p("f"), true)
		wantSize(t, k.live, int64(len(k.p)), "second writer's Size: A's unclosed bytes are not durable")
		e.write(k.live, k.b)
		return k
	}
	// committed checks the final content: B's, or under best-effort fencing
	// at least exactly one writer's.
	committed := func(k *takeover) {
		e := k.e
		e.t.Helper()
		got := e.get(e.fresh(), e.p("f"))
		want := slices.Concat(k.p, k.b)
		if e.caps.Fencing == driver.FencingBestEffort {
			if which(got, want, slices.Concat(k.p, k.a)) < 0 {
				e.t.Errorf("committed content is no single writer's: %s", describe(got, want, slices.Concat(k.p, k.a)))
			}
			return
		}
		sameBytes(e.t, got, want, "committed content")
	}
	t.Run("StaleClose", func(t *testing.T) {
		k := setup(t)
		k.e.conflict(k.stale.Close(), "Close of the fenced writer")
		must(t, k.live.Commit(k.e.ctx), "Commit of the live writer")
		committed(k)
	})
	t.Run("StaleCommit", func(t *testing.T) {
		k := setup(t)
		k.e.conflict(k.stale.Commit(k.e.ctx), "Commit of the fenced writer")
		if err := k.live.Commit(k.e.ctx); err != nil && k.e.caps.Fencing != driver.FencingBestEffort {
			t.Fatalf("Commit of the live writer after the fenced one tried: %v", err)
		}
		committed(k)
	})
	t.Run("StaleCommitAfterLiveCommitted", func(t *testing.T) {
		k := setup(t)
		must(t, k.live.Commit(k.e.ctx), "Commit of the live writer")
		k.e.conflict(k.stale.Commit(k.e.ctx), "Commit of the fenced writer after the live one committed")
		committed(k)
	})
	t.Run("StaleCancel", func(t *testing.T) {
		k := setup(t)
		k.e.conflict(k.stale.Cancel(k.e.ctx), "Cancel of the fenced writer")
		must(t, k.live.Commit(k.e.ctx), "Commit of the live writer after the fenced one cancelled")
		committed(k)
	})
	t.Run("NewUploadTakeover", func(t *testing.T) {
		e := s.env(t)
		w := e.writer(e.fresh(), e.p("f"), false)
		e.write(w, e.payload(0, 10*kib))
		must(t, w.Close(), "Close")
		stale := e.writer(e.fresh(), e.p("f"), true)
		e.write(stale, e.payload(1, 10*kib))
		live := e.writer(e.fresh(), e.p("f"), false)
		wantSize(t, live, 0, "Writer(append=false) over a live upload")
		e.write(live, e.payload(2, 7))
		e.conflict(stale.Close(), "Close of the writer replaced by Writer(append=false)")
		must(t, live.Commit(e.ctx), "Commit of the new upload")
		e.wantContent(e.fresh(), e.p("f"), e.payload(2, 7))
		e.noNewLeftovers("upload replaced by Writer(append=false)")
	})
	t.Run("ConcurrentClose", func(t *testing.T) {
		e := s.env(t)
		for round := range 10 {
			p := e.p("r", string(rune('a'+round)))
			pre, a, b := e.payload(round*3, 5*kib), e.payload(round*3+1, 7*kib), e.payload(round*3+2, 9*kib)
			w := e.writer(e.fresh(), p, false)
			e.write(w, pre)
			must(t, w.Close(), "Close")
			wa := e.writer(e.fresh(), p, true)
			wb := e.writer(e.fresh(), p, true) // fences wa
			var ea, eb error
			barrier(
				func() { _, ea = wa.Write(a); ea = errors.Join(ea, wa.Close()) },
				func() { _, eb = wb.Write(b); eb = errors.Join(eb, wb.Close()) },
			)
			e.conflict(ea, "racing Close of the fenced writer")
			must(t, eb, "racing Close of the live writer")
			w = e.writer(e.fresh(), p, true)
			size := w.Size()
			must(t, w.Commit(e.ctx), "Commit")
			got := e.get(e.fresh(), p)
			k := which(got, slices.Concat(pre, b), slices.Concat(pre, a))
			switch {
			case k < 0:
				t.Errorf("round %d: bytes of two writers interleaved: %s", round, describe(got, slices.Concat(pre, b), slices.Concat(pre, a)))
			case int64(len(got)) != size:
				t.Errorf("round %d: resumed Size %d, committed %d bytes", round, size, len(got))
			case k == 1 && e.caps.Fencing != driver.FencingBestEffort:
				t.Errorf("round %d: the fenced writer's bytes were committed", round)
			}
		}
	})
	t.Run("ConcurrentResumeAndClose", func(t *testing.T) {
		// Two instances resume one upload at the same instant and race to
		// Close: at least one must learn it lost (ErrConflict on Writer or
		// Close) and the bytes are one writer's. Under best-effort fencing
		// a round where both succeed is counted, not failed.
		e := s.env(t)
		for round := range 10 {
			p := e.p("r", string(rune('a'+round)))
			pre := e.payload(round*3, 3*kib)
			w := e.writer(e.fresh(), p, false)
			e.write(w, pre)
			must(t, w.Close(), "Close")
			da, db := e.fresh(), e.fresh()
			payloads := [2][]byte{e.payload(round*3+1, 5*kib), e.payload(round*3+2, 6*kib)}
			var errs [2]error
			race := func(d driver.Driver, i int) func() {
				return func() {
					w, err := d.Writer(e.ctx, p, true)
					if err != nil {
						errs[i] = err
						return
					}
					_, err = w.Write(payloads[i])
					errs[i] = errors.Join(err, w.Close())
				}
			}
			barrier(race(da, 0), race(db, 1))
			for i, err := range errs {
				if err != nil && !errors.Is(err, driver.ErrConflict) {
					t.Errorf("round %d: writer %d: %v, want nil or ErrConflict", round, i, err)
				}
			}
			w = e.writer(e.fresh(), p, true)
			size := w.Size()
			must(t, w.Commit(e.ctx), "Commit")
			got := e.get(e.fresh(), p)
			a, b := payloads[0], payloads[1]
			// One writer's bytes (the other lost), or both in turn (the two
			// did not overlap after all), or none if both lost.
			cands := [][]byte{slices.Concat(pre, a), slices.Concat(pre, b), slices.Concat(pre, a, b), slices.Concat(pre, b, a), pre}
			k := which(got, cands...)
			e.s.staleWriters.Add(1)
			switch {
			case k < 0:
				t.Errorf("round %d: bytes of two writers interleaved: %s", round, describe(got, cands...))
			case int64(len(got)) != size:
				t.Errorf("round %d: resumed Size %d, committed %d bytes", round, size, len(got))
			case errs[0] == nil && errs[1] == nil && k < 2:
				// Both were told their bytes were durable; one's are gone.
				e.s.staleUndetected.Add(1)
				if e.caps.Fencing != driver.FencingBestEffort {
					t.Errorf("round %d: both writers closed without ErrConflict, but only writer %d's bytes were kept", round, k)
				} else {
					t.Logf("round %d: concurrent second writer went undetected (fencing declared best-effort)", round)
				}
			case errs[0] != nil && errs[1] != nil && k != 4, errs[0] == nil && errs[1] != nil && k != 0, errs[0] != nil && errs[1] == nil && k != 1:
				t.Errorf("round %d: writer errors %v and %v, but committed %s", round, errs[0], errs[1], describe(got, cands...))
			}
		}
		e.noNewLeftovers("two writers racing on one upload")
	})
	t.Run("TwoNewUploadsCommitRace", func(t *testing.T) {
		e := s.env(t)
		for round := range 10 {
			p := e.p("r", string(rune('a'+round)))
			a, b := e.payload(round*2, 6*kib), e.payload(round*2+1, 8*kib)
			wa := e.writer(e.fresh(), p, false)
			e.write(wa, a)
			wb := e.writer(e.fresh(), p, false) // fences wa
			e.write(wb, b)
			var ea, eb error
			barrier(func() { ea = wa.Commit(e.ctx) }, func() { eb = wb.Commit(e.ctx) })
			e.conflict(ea, "Commit of the replaced upload")
			must(t, eb, "Commit of the newer upload")
			got := e.get(e.fresh(), p)
			if k := which(got, b, a); k < 0 || k == 1 && e.caps.Fencing != driver.FencingBestEffort {
				t.Errorf("round %d: committed content is not the newer writer's: %s", round, describe(got, b, a))
			}
		}
		e.noNewLeftovers("two uploads racing to commit")
	})
}
