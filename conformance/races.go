package conformance

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthio/berth/driver"
)

// sweeper is what a Driver offers when its backend can reclaim leftovers
// (driver.Store.Sweep).
type sweeper interface {
	Sweep(ctx context.Context, olderThan time.Duration) error
}

// testF17 covers F17: a purge of old uploads racing a live one. While one
// upload is appended session after session on fresh instances, other
// instances purge the old uploads beside it (Delete of their directories,
// as distribution's purger does; names share the live one's prefix), and
// between the live upload's sessions a sweep of leftovers older than 0
// (Store.Sweep, where the driver has one) runs over it. The live upload
// resumes at its exact size every time and commits exact bytes; the purged
// ones are gone.
func (s *suite) testF17(t *testing.T) {
	e := s.env(t)
	rounds, sessions, olds := 2, 6, 4
	if longMode() {
		rounds, sessions, olds = 8, 12, 8
	}
	for r := range rounds {
		base := e.p(fmt.Sprint(r), "uploads")
		live := base + "/live/data"
		var oldPaths []string
		for i := range olds {
			p := fmt.Sprintf("%s/live%d/data", base, i) // shares "live" with the live upload
			w := e.writer(e.fresh(), p, false)
			e.write(w, e.payload(100+i, 20*kib))
			must(t, w.Close(), "Close of old upload %d", i)
			oldPaths = append(oldPaths, p)
		}
		var want []byte
		var purged atomic.Int64
		purge := func() {
			d := e.fresh()
			for _, p := range oldPaths {
				if err := d.Delete(e.ctx, path.Dir(p)); err != nil {
					t.Errorf("round %d: purge Delete(%s) while a live upload is appended: %v", r, path.Dir(p), err)
				}
				purged.Add(1)
			}
		}
		appendLive := func() {
			for i := range sessions {
				chunk := e.payload(r*100+i, 64*kib+i)
				w, err := e.fresh().Writer(e.ctx, live, i > 0)
				if err != nil {
					t.Errorf("round %d session %d: Writer(append=%v) while old uploads are purged: %v", r, i, i > 0, err)
					return
				}
				if w.Size() != int64(len(want)) {
					t.Errorf("round %d session %d: the live upload resumed at Size %d, want %d (purged %d old uploads so far)", r, i, w.Size(), len(want), purged.Load())
					return
				}
				if err := writeChunks(w, chunk, 16*kib); err != nil {
					t.Errorf("round %d session %d: Write: %v", r, i, err)
					return
				}
				if err := w.Close(); err != nil {
					t.Errorf("round %d session %d: Close while old uploads are purged: %v", r, i, err)
					return
				}
				want = append(want, chunk...)
				if sw, ok := e.fresh().(sweeper); ok {
					if err := sw.Sweep(e.ctx, 0); err != nil {
						t.Errorf("round %d: Sweep(0) between sessions of a live upload: %v", r, err)
					}
				}
			}
		}
		barrier(purge, appendLive)
		if t.Failed() {
			return
		}
		w := e.writer(e.fresh(), live, true)
		wantSize(t, w, int64(len(want)), "live upload after the purge")
		must(t, w.Commit(e.ctx), "Commit of the live upload")
		got, err := readAll(e.fresh().Reader(e.ctx, live, 0))
		must(t, err, "Reader")
		sameBytes(t, got, want, "round %d: the live upload after a racing purge", r)
		for _, p := range oldPaths {
			_, err := e.fresh().Writer(e.ctx, p, true)
			wantKind(t, err, driver.ErrNotFound, "resume of a purged upload %s", p)
		}
	}
}

// testF18Concurrent covers F18 (and CONTRACT 1): readers on two instances
// read one path in a loop (GetContent, a streamed Reader, Stat, ReadRange)
// while a third replaces it with PutContent, a committed Writer and a Move
// in turn. Every read is one whole version; GetContent, Stat and ReadRange
// never fail; a streamed Reader may fail but never returns a mix.
func (s *suite) testF18Concurrent(t *testing.T) {
	e := s.env(t)
	n := 15
	if longMode() {
		n = 60
	}
	link := e.p("link")
	versions := make([][]byte, n+1)
	for i := range versions {
		versions[i] = e.payload(i, 32*kib+i*97)
	}
	e.put(e.d, link, versions[0])
	done := make(chan struct{})
	var reads, streamErrs atomic.Int64
	reader := func(d driver.Driver, kind int) func() {
		return func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				switch kind {
				case 0:
					got, err := d.GetContent(e.ctx, link)
					if err != nil {
						t.Errorf("GetContent while the path is replaced: %v", err)
						return
					}
					if which(got, versions...) < 0 {
						t.Errorf("GetContent while the path is replaced: %s", describeVersion(got, versions))
						return
					}
				case 1:
					got, err := readAll(d.Reader(e.ctx, link, 0))
					if err != nil {
						streamErrs.Add(1)
						continue
					}
					if which(got, versions...) < 0 {
						t.Errorf("Reader while the path is replaced: %s", describeVersion(got, versions))
						return
					}
				case 2:
					fi, err := d.Stat(e.ctx, link)
					if err != nil {
						t.Errorf("Stat while the path is replaced: %v", err)
						return
					}
					if !slices.ContainsFunc(versions, func(v []byte) bool { return int64(len(v)) == fi.Size() }) {
						t.Errorf("Stat while the path is replaced: Size %d is no version's", fi.Size())
						return
					}
					got, err := readAll(d.ReadRange(e.ctx, link, 1000, 4*kib))
					if err != nil {
						t.Errorf("ReadRange while the path is replaced: %v", err)
						return
					}
					if !slices.ContainsFunc(versions, func(v []byte) bool { return slices.Equal(v[1000:1000+4*kib], got) }) {
						t.Errorf("ReadRange(1000, 4 KiB) while the path is replaced: %d bytes, no version's", len(got))
						return
					}
				}
				reads.Add(1)
			}
		}
	}
	var wg sync.WaitGroup
	for i, d := range []driver.Driver{e.fresh(), e.fresh(), e.fresh()} {
		wg.Go(reader(d, i))
	}
	a := e.fresh()
	for i := 1; i <= n; i++ {
		v := versions[i]
		var err error
		switch i % 3 {
		case 0:
			err = a.PutContent(e.ctx, link, v)
		case 1:
			var w driver.FileWriter
			if w, err = a.Writer(e.ctx, link, false); err == nil {
				if err = writeChunks(w, v, 8*kib); err == nil {
					err = w.Commit(e.ctx)
				}
			}
		case 2:
			stage := e.p("stage", fmt.Sprint(i))
			if err = a.PutContent(e.ctx, stage, v); err == nil {
				err = a.Move(e.ctx, stage, link)
			}
		}
		if err != nil {
			t.Errorf("replacement %d: %v", i, err)
			break
		}
	}
	close(done)
	wg.Wait()
	e.wantContent(e.fresh(), link, versions[n])
	t.Logf("F18: %d reads on three instances during %d replacements; %d streamed reads failed", reads.Load(), n, streamErrs.Load())
}

// describeVersion names got for an error: which version it starts like.
func describeVersion(got []byte, versions [][]byte) string {
	for i, v := range versions {
		if len(got) > 0 && len(v) > 0 && got[0] == v[0] && len(got) >= 16 && slices.Equal(got[:16], v[:16]) {
			return fmt.Sprintf("%d bytes beginning like version %d (%d bytes): torn or mixed; %s", len(got), i, len(v), diff(got, v))
		}
	}
	return fmt.Sprintf("%d bytes, no version's", len(got))
}
