package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/berthio/berth/driver"
)

// testContract tests CONTRACT.md's numbered semantics with several
// instances on one backend; each test's name starts with its line number.
func (s *suite) testContract(t *testing.T) {
	t.Run("C1_AtomicPutContent", func(t *testing.T) {
		e := s.env(t)
		e.atomicReplace(func(d driver.Driver, i int, p []byte) error { return d.PutContent(e.ctx, e.p("f"), p) })
	})
	t.Run("C1_AtomicCommit", func(t *testing.T) {
		e := s.env(t)
		e.atomicReplace(func(d driver.Driver, i int, p []byte) error {
			w, err := d.Writer(e.ctx, e.p("f"), false)
			if err != nil {
				return err
			}
			for c := range slices.Chunk(p, 16*kib) {
				if _, err := w.Write(c); err != nil {
					return err
				}
			}
			return w.Commit(e.ctx)
		})
	})
	t.Run("C1_AtomicMove", func(t *testing.T) {
		e := s.env(t)
		e.atomicReplace(func(d driver.Driver, i int, p []byte) error {
			stage := e.p("stage", fmt.Sprint(i))
			if err := d.PutContent(e.ctx, stage, p); err != nil {
				return err
			}
			return d.Move(e.ctx, stage, e.p("f"))
		})
	})
	t.Run("C2_ConcurrentPutContent", func(t *testing.T) {
		e := s.env(t)
		insts := []driver.Driver{e.fresh(), e.fresh(), e.fresh(), e.fresh()}
		for round := range 10 {
			payloads := make([][]byte, len(insts))
			fns := make([]func(), len(insts))
			for i, d := range insts {
				payloads[i] = e.payload(round*10+i, 20*kib+i*997)
				fns[i] = func() {
					if err := d.PutContent(e.ctx, e.p("f"), payloads[i]); err != nil {
						t.Errorf("round %d: PutContent on instance %d: %v", round, i, err)
					}
				}
			}
			barrier(fns...)
			first := e.get(e.fresh(), e.p("f"))
			if which(first, payloads...) < 0 {
				t.Fatalf("round %d: content after concurrent PutContent is %s", round, describe(first, payloads...))
			}
			for i, d := range insts {
				sameBytes(t, e.get(d, e.p("f")), first, "round %d: instance %d reads", round, i)
			}
		}
	})
	t.Run("C3_CloseIsDurable", func(t *testing.T) {
		e := s.env(t)
		a, b := e.payload(0, mib+3), e.payload(1, 5)
		w := e.writer(e.fresh(), e.p("f"), false)
		for c := range slices.Chunk(a, 100*kib) {
			e.write(w, c)
		}
		must(t, w.Close(), "Close on A")
		w = e.writer(e.fresh(), e.p("f"), true)
		wantSize(t, w, int64(len(a)), "resume on B after Close on A")
		e.write(w, b)
		must(t, w.Close(), "Close on B")
		w = e.writer(e.fresh(), e.p("f"), true)
		wantSize(t, w, int64(len(a)+len(b)), "resume on C after Close on B")
		must(t, w.Commit(e.ctx), "Commit on C")
		e.wantContent(e.fresh(), e.p("f"), slices.Concat(a, b))
	})
	t.Run("C4_ResumeContinuesLiveUpload", func(t *testing.T) {
		e := s.env(t)
		a, lost, c := e.payload(0, 10*kib), e.payload(1, 5*kib), e.payload(2, 3*kib)
		w := e.writer(e.fresh(), e.p("f"), false)
		e.write(w, a)
		must(t, w.Close(), "Close on A")
		abandoned := e.writer(e.fresh(), e.p("f"), true)
		e.write(abandoned, lost) // never closed: B "crashed"
		w = e.writer(e.fresh(), e.p("f"), true)
		wantSize(t, w, int64(len(a)), "resume on C after B wrote without Close")
		e.write(w, c)
		must(t, w.Commit(e.ctx), "Commit on C")
		e.conflict(abandoned.Close(), "Close of the abandoned writer after C committed")
		e.wantContent(e.fresh(), e.p("f"), slices.Concat(a, c))
	})
	t.Run("C5_Fencing", s.testFencing)
	t.Run("C6_CommitVisibleCancelClean", func(t *testing.T) {
		e := s.env(t)
		keep, drop := e.writer(e.fresh(), e.p("d", "keep"), false), e.writer(e.fresh(), e.p("d", "drop"), false)
		e.write(keep, e.payload(0, 100*kib))
		e.write(drop, e.payload(1, 100*kib))
		must(t, drop.Close(), "Close")
		drop = e.writer(e.fresh(), e.p("d", "drop"), true)
		must(t, keep.Commit(e.ctx), "Commit")
		must(t, drop.Cancel(e.ctx), "Cancel")
		d := e.fresh()
		e.wantContent(d, e.p("d", "keep"), e.payload(0, 100*kib))
		e.wantAbsent(d, e.p("d", "drop"))
		e.listed("List after Commit and Cancel", func() (bool, error) {
			got, err := d.List(e.ctx, e.p("d"))
			return slices.Equal(got, []string{e.p("d", "keep")}), err
		})
		e.noNewLeftovers("Commit of one upload and Cancel of another")
	})
	t.Run("C7_ConcurrentMoveSameDst", func(t *testing.T) { s.env(t).concurrentMove(3, 10, 200*kib, false) })
	t.Run("C7_ConcurrentMoveDistinctDst", func(t *testing.T) { s.env(t).concurrentMove(3, 10, 200*kib, true) })
	t.Run("C8_DeleteRemovesUploadsOfAllInstances", func(t *testing.T) {
		e := s.env(t)
		closed := e.writer(e.fresh(), e.p("u", "closed"), false)
		e.write(closed, []byte("durable"))
		must(t, closed.Close(), "Close")
		open := e.writer(e.fresh(), e.p("u", "sub", "open"), false)
		e.write(open, []byte("pending"))
		e.put(e.fresh(), e.p("u", "file"), []byte("x"))
		e.put(e.fresh(), e.p("u-sibling", "file"), []byte("kept"))
		must(t, e.fresh().Delete(e.ctx, e.p("u")), "Delete")
		if err := open.Commit(e.ctx); err == nil {
			t.Errorf("Commit of a writer whose upload was deleted on another instance succeeded")
		}
		d := e.fresh()
		for _, p := range []string{e.p("u", "closed"), e.p("u", "sub", "open")} {
			_, err := d.Writer(e.ctx, p, true)
			wantKind(t, err, driver.ErrNotFound, "resume of %s after Delete", p)
			e.wantAbsent(d, p)
		}
		e.wantContent(d, e.p("u-sibling", "file"), []byte("kept"))
		e.noNewLeftovers("Delete of a directory with uploads from several instances")
	})
	t.Run("C9_ReadAfterWrite", s.testReadAfterWrite)
	t.Run("C11_CancelRacesMutation", s.testCancelRace)
	t.Run("C14_ReaderOffsetsOnOtherInstance", func(t *testing.T) {
		e := s.env(t)
		data := e.payload(0, 70*kib+1)
		if err := writeResumeCommit(e.ctx, e.fresh(), e.fresh(), e.p("f"), data); err != nil {
			t.Fatal(err)
		}
		d, size := e.fresh(), int64(len(data))
		for _, off := range []int64{0, size / 3, size} {
			got, err := readAll(d.Reader(e.ctx, e.p("f"), off))
			must(t, err, "Reader(%d)", off)
			sameBytes(t, got, data[off:], "Reader(%d)", off)
		}
		for _, off := range []int64{-1, size + 1} {
			_, err := readAll(d.Reader(e.ctx, e.p("f"), off))
			wantKind(t, err, driver.ErrInvalidOffset, "Reader(%d)", off)
		}
	})
}

// atomicReplace replaces e.p("f") again and again on instance A while
// readers on other instances check that every read is one whole payload
// (CONTRACT 1, FAILURE-MODES F18).
func (e *env) atomicReplace(replace func(d driver.Driver, i int, p []byte) error) {
	t := e.t
	payloads := [][]byte{e.payload(0, 48*kib+1), e.payload(1, 96*kib+3), e.payload(2, 150*kib+7)}
	sizes := []int64{int64(len(payloads[0])), int64(len(payloads[1])), int64(len(payloads[2]))}
	path := e.p("f")
	e.put(e.d, path, payloads[0])
	done := make(chan struct{})
	var reads atomic.Int64
	var wg sync.WaitGroup
	for r := range 3 {
		d := e.fresh()
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					if i > 0 {
						return
					}
				default:
				}
				var got []byte
				var err error
				switch (i + r) % 3 {
				case 0:
					got, err = d.GetContent(e.ctx, path)
				case 1:
					got, err = readAll(d.Reader(e.ctx, path, 0))
				case 2:
					var fi driver.FileInfo
					if fi, err = d.Stat(e.ctx, path); err == nil && !slices.Contains(sizes, fi.Size()) {
						t.Errorf("Stat during replacement: size %d, want one of %v", fi.Size(), sizes)
						return
					}
					reads.Add(1)
					continue
				}
				if err != nil {
					t.Errorf("read during replacement: %v", err)
					return
				}
				if which(got, payloads...) < 0 {
					t.Errorf("read during replacement: %s", describe(got, payloads...))
					return
				}
				reads.Add(1)
			}
		})
	}
	const rounds = 60
	for i := range rounds {
		if err := replace(e.d, i, payloads[(i+1)%len(payloads)]); err != nil {
			t.Errorf("replacement %d: %v", i, err)
			break
		}
	}
	close(done)
	wg.Wait()
	t.Logf("%d reads on 3 instances during %d replacements", reads.Load(), rounds)
	e.wantContent(e.fresh(), path, payloads[rounds%len(payloads)])
}

// concurrentMove has n instances Move one source at once, rounds times:
// exactly one wins, the others get ErrNotFound, the destination is whole
// (CONTRACT 7, FAILURE-MODES F2).
func (e *env) concurrentMove(n, rounds, size int, distinct bool) {
	t := e.t
	insts := make([]driver.Driver, n)
	for i := range insts {
		insts[i] = e.fresh()
	}
	kind := "same"
	if distinct {
		kind = "distinct"
	}
	for round := range rounds {
		src := e.p(kind, "uploads", fmt.Sprint(round), "data")
		data := e.payload(round, size)
		e.put(e.d, src, data)
		errs := make([]error, n)
		dst := func(i int) string {
			if distinct {
				return e.p(kind, "blobs", fmt.Sprint(round), fmt.Sprint(i))
			}
			return e.p(kind, "blobs", fmt.Sprint(round), "data")
		}
		fns := make([]func(), n)
		for i, d := range insts {
			fns[i] = func() { errs[i] = d.Move(e.ctx, src, dst(i)) }
		}
		barrier(fns...)
		winners := 0
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
				e.wantContent(e.fresh(), dst(i), data)
			case errors.Is(err, driver.ErrNotFound):
				if distinct {
					e.wantAbsent(e.fresh(), dst(i))
				}
			default:
				t.Errorf("round %d: losing Move got %v, want ErrNotFound", round, err)
			}
		}
		if winners != 1 {
			t.Errorf("round %d: %d of %d concurrent Moves of one source succeeded, want exactly 1 (errors %v)", round, winners, n, errs)
		}
		e.wantAbsent(e.fresh(), src)
	}
}

func (s *suite) testReadAfterWrite(t *testing.T) {
	const reps = 10
	cases := []struct {
		name   string
		mutate func(e *env, d driver.Driver, p string, data []byte)
	}{
		{"PutContent", func(e *env, d driver.Driver, p string, data []byte) { e.put(d, p, data) }},
		{"Commit", func(e *env, d driver.Driver, p string, data []byte) { e.upload(d, p, data) }},
		{"Move", func(e *env, d driver.Driver, p string, data []byte) {
			e.put(d, p+"-src", data)
			must(e.t, d.Move(e.ctx, p+"-src", p), "Move")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := s.env(t)
			for i := range reps {
				p, data := e.p(fmt.Sprint(i), "f"), e.payload(i, 1000+i)
				c.mutate(e, e.fresh(), p, data)
				d := e.fresh()
				e.wantContent(d, p, data)
				e.listed("List and Walk on a fresh instance after "+c.name, func() (bool, error) {
					got, err := d.List(e.ctx, e.p(fmt.Sprint(i)))
					if err != nil || !slices.Equal(got, []string{p}) {
						return false, err
					}
					walked, err := walkPaths(e.ctx, d, e.dir)
					return slices.Contains(walked, p), err
				})
			}
		})
	}
	t.Run("Delete", func(t *testing.T) {
		e := s.env(t)
		for i := range reps {
			p := e.p(fmt.Sprint(i), "f")
			e.put(e.d, p, []byte("x"))
			d := e.fresh()
			e.wantContent(d, p, []byte("x")) // d may now cache it
			must(t, e.fresh().Delete(e.ctx, p), "Delete")
			e.wantAbsent(d, p)
			e.wantAbsent(e.fresh(), p)
			e.listed("Walk on a fresh instance after Delete", func() (bool, error) {
				walked, err := walkPaths(e.ctx, e.fresh(), e.dir)
				if errors.Is(err, driver.ErrNotFound) {
					return true, nil
				}
				return !slices.Contains(walked, p), err
			})
		}
	})
	t.Run("Close", func(t *testing.T) {
		e := s.env(t)
		for i := range reps {
			p := e.p(fmt.Sprint(i), "f")
			w := e.writer(e.fresh(), p, false)
			e.write(w, e.payload(i, 100+i))
			must(t, w.Close(), "Close")
			w = e.writer(e.fresh(), p, true)
			wantSize(t, w, int64(100+i), "resume on a fresh instance right after Close")
			must(t, w.Cancel(e.ctx), "Cancel")
		}
	})
}

// testCancelRace cancels a mutation's context while it runs: whatever the
// call returns, readers see the old content or the new, never part of it
// (CONTRACT 11).
func (s *suite) testCancelRace(t *testing.T) {
	ops := []struct {
		name string
		call func(ctx context.Context, e *env, d driver.Driver, p string, data []byte) error
	}{
		{"PutContent", func(ctx context.Context, e *env, d driver.Driver, p string, data []byte) error {
			return d.PutContent(ctx, p, data)
		}},
		{"Commit", func(ctx context.Context, e *env, d driver.Driver, p string, data []byte) error {
			w, err := d.Writer(ctx, p, false)
			if err != nil {
				return err
			}
			defer func() { _ = w.Cancel(e.ctx) }()
			if _, err := w.Write(data); err != nil {
				return err
			}
			return w.Commit(ctx)
		}},
		{"Move", func(ctx context.Context, e *env, d driver.Driver, p string, data []byte) error {
			if err := d.PutContent(e.ctx, p+"-src", data); err != nil {
				return err
			}
			defer func() { _ = d.Delete(e.ctx, p+"-src") }()
			return d.Move(ctx, p+"-src", p)
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			e := s.env(t)
			old := e.payload(0, 10)
			for i := range 10 {
				p, data := e.p(fmt.Sprint(i)), e.payload(i+1, 2*mib+i)
				e.put(e.d, p, old)
				ctx, cancel := context.WithCancel(e.ctx)
				var err error
				barrier(func() { err = op.call(ctx, e, e.fresh(), p, data) }, cancel)
				got := e.get(e.fresh(), p)
				switch k := which(got, old, data); {
				case k < 0:
					t.Errorf("%s raced by cancel (err %v): content is %s", op.name, err, describe(got, old, data))
				case k == 1 && err != nil:
					// Whole, so allowed: the backend acted before the cancel landed.
					t.Logf("%s returned %v, yet its whole content became visible", op.name, err)
				case k == 0 && err == nil:
					t.Errorf("%s returned nil, yet the old content is still there", op.name)
				}
			}
		})
	}
}
