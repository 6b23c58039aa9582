package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/berthio/berth/driver"
)

func (s *suite) testWriter(t *testing.T) {
	t.Run("WriteCommit", func(t *testing.T) {
		e := s.env(t)
		chunks := [][]byte{e.payload(0, 1), e.payload(1, 64*kib), e.payload(2, 300*kib+5)}
		w := e.writer(e.d, e.p("f"), false)
		wantSize(t, w, 0, "new writer")
		var n int64
		for _, c := range chunks {
			e.write(w, c)
			n += int64(len(c))
			wantSize(t, w, n, "after Write")
		}
		must(t, w.Commit(e.ctx), "Commit")
		e.wantContent(e.fresh(), e.p("f"), slices.Concat(chunks...))
	})
	t.Run("CommitReplacesFile", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("f"), e.payload(0, 200*kib))
		e.upload(e.fresh(), e.p("f"), []byte("new"))
		e.wantContent(e.fresh(), e.p("f"), []byte("new"))
	})
	t.Run("ZeroByteCommit", func(t *testing.T) {
		e := s.env(t)
		w := e.writer(e.d, e.p("f"), false)
		must(t, w.Commit(e.ctx), "Commit")
		e.wantContent(e.fresh(), e.p("f"), nil)
	})
	t.Run("ZeroByteCloseResumeCommit", func(t *testing.T) {
		e := s.env(t)
		must(t, e.writer(e.d, e.p("f"), false).Close(), "Close")
		w := e.writer(e.fresh(), e.p("f"), true)
		wantSize(t, w, 0, "resumed empty upload")
		must(t, w.Commit(e.ctx), "Commit")
		e.wantContent(e.fresh(), e.p("f"), nil)
	})
	t.Run("Resume", func(t *testing.T) {
		t.Run("LargeChunks", func(t *testing.T) { s.env(t).resume(3, 2*mib+17, 256*kib) })
		t.Run("TinyChunks", func(t *testing.T) { s.env(t).resume(48, 1, 1) })
		t.Run("OddChunks", func(t *testing.T) { s.env(t).resume(5, 100*kib+3, 7*kib+1) })
	})
	t.Run("ResumeWithoutWrite", func(t *testing.T) {
		e := s.env(t)
		w := e.writer(e.d, e.p("f"), false)
		e.write(w, []byte("abc"))
		must(t, w.Close(), "Close")
		for range 2 {
			w = e.writer(e.fresh(), e.p("f"), true)
			wantSize(t, w, 3, "resume")
			must(t, w.Close(), "Close without Write")
		}
		w = e.writer(e.fresh(), e.p("f"), true)
		must(t, w.Commit(e.ctx), "Commit")
		e.wantContent(e.fresh(), e.p("f"), []byte("abc"))
	})
	t.Run("InvisibleBeforeCommit", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("sibling"), []byte("x"))
		path := e.p("up", "data")
		w := e.writer(e.d, path, false)
		e.write(w, e.payload(0, 10*kib))
		e.invisible(path, "after Write")
		must(t, w.Close(), "Close")
		e.invisible(path, "after Close")
		w = e.writer(e.fresh(), path, true)
		e.write(w, e.payload(1, 10))
		e.invisible(path, "after resume and Write")
		must(t, w.Commit(e.ctx), "Commit")
		e.wantContent(e.fresh(), path, slices.Concat(e.payload(0, 10*kib), e.payload(1, 10)))
	})
	t.Run("Cancel", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			close bool // Close, then resume on another instance and Cancel there
			write bool
		}{{"Empty", false, false}, {"AfterWrite", false, true}, {"AfterCloseAndResume", true, true}} {
			t.Run(c.name, func(t *testing.T) {
				e := s.env(t)
				path := e.p("up", "data")
				w := e.writer(e.d, path, false)
				if c.write {
					e.write(w, e.payload(0, mib+1))
				}
				if c.close {
					must(t, w.Close(), "Close")
					w = e.writer(e.fresh(), path, true)
					e.write(w, e.payload(1, 100))
				}
				must(t, w.Cancel(e.ctx), "Cancel")
				d := e.fresh()
				e.wantAbsent(d, path)
				_, err := d.Writer(e.ctx, path, true)
				wantKind(t, err, driver.ErrNotFound, "Writer(append=true) after Cancel")
				if got := e.visible(); slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, e.dir) }) {
					t.Errorf("Walk shows %q after Cancel", got)
				}
				e.noNewLeftovers("Cancel")
			})
		}
	})
	t.Run("CancelKeepsExistingFile", func(t *testing.T) {
		e := s.env(t)
		old := e.payload(0, 5000)
		e.put(e.d, e.p("f"), old)
		w := e.writer(e.d, e.p("f"), false)
		e.write(w, e.payload(1, 100))
		must(t, w.Close(), "Close")
		w = e.writer(e.fresh(), e.p("f"), true)
		must(t, w.Cancel(e.ctx), "Cancel")
		e.wantContent(e.fresh(), e.p("f"), old)
		e.noNewLeftovers("Cancel")
	})
	t.Run("NewUploadDiscardsOld", func(t *testing.T) {
		e := s.env(t)
		w := e.writer(e.d, e.p("f"), false)
		e.write(w, e.payload(0, 200*kib))
		must(t, w.Close(), "Close")
		w = e.writer(e.fresh(), e.p("f"), false)
		wantSize(t, w, 0, "Writer(append=false) over a closed upload")
		e.write(w, []byte("fresh start"))
		must(t, w.Commit(e.ctx), "Commit")
		e.wantContent(e.fresh(), e.p("f"), []byte("fresh start"))
		e.noNewLeftovers("Commit of a new upload that replaced an old one")
	})
	t.Run("AppendWithoutUpload", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("file"), []byte("x"))
		for _, p := range []string{e.p("nothing"), e.p("nodir", "x"), e.p("file")} {
			_, err := e.fresh().Writer(e.ctx, p, true)
			wantKind(t, err, driver.ErrNotFound, "Writer(%s, append=true) with no upload there", p)
		}
		e.upload(e.d, e.p("done"), []byte("x"))
		_, err := e.fresh().Writer(e.ctx, e.p("done"), true)
		wantKind(t, err, driver.ErrNotFound, "Writer(append=true) after Commit")
		e.noNewLeftovers("Writer(append=true) with no upload")
	})
	t.Run("States", s.testWriterStates)
}

// resume writes sessions of n bytes each, in writes of chunk bytes, each
// session on a new instance that resumes the last one's upload.
func (e *env) resume(sessions, n, chunk int) {
	t := e.t
	path := e.p("f")
	var want []byte
	for i := range sessions {
		w := e.writer(e.fresh(), path, i > 0)
		wantSize(t, w, int64(len(want)), fmt.Sprintf("session %d: Size after resume", i))
		data := e.payload(i, n)
		for c := range slices.Chunk(data, chunk) {
			e.write(w, c)
		}
		want = append(want, data...)
		wantSize(t, w, int64(len(want)), fmt.Sprintf("session %d: Size after Write", i))
		if i == sessions-1 {
			must(t, w.Commit(e.ctx), "Commit")
		} else {
			must(t, w.Close(), "session %d: Close", i)
		}
	}
	e.wantContent(e.fresh(), path, want)
}

// invisible checks that an upload in progress at path shows nowhere.
func (e *env) invisible(path, when string) {
	e.t.Helper()
	d := e.fresh()
	_, err := d.Stat(e.ctx, path)
	wantKind(e.t, err, driver.ErrNotFound, "Stat of an upload %s", when)
	_, err = d.GetContent(e.ctx, path)
	wantKind(e.t, err, driver.ErrNotFound, "GetContent of an upload %s", when)
	_, err = readAll(d.Reader(e.ctx, path, 0))
	wantKind(e.t, err, driver.ErrNotFound, "Reader of an upload %s", when)
	dir := path[:strings.LastIndexByte(path, '/')]
	if got, err := d.List(e.ctx, dir); err != nil && !errors.Is(err, driver.ErrNotFound) || len(got) > 0 {
		e.t.Errorf("List(%s) of an upload's directory %s = %q, %v; want nothing", dir, when, got, err)
	}
	for _, p := range e.walk(d, e.dir) {
		if driver.IsUnder(p, dir) && p != dir {
			e.t.Errorf("Walk shows %s, an upload %s", p, when)
		}
	}
}

// testWriterStates checks the FileWriter state machine: after Commit or
// Cancel, Close returns nil; every other call on a closed, committed or
// cancelled writer returns ErrClosed.
func (s *suite) testWriterStates(t *testing.T) {
	type step struct {
		call string
		want error // nil: must succeed
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"CloseThenCommit", []step{{"Close", nil}, {"Commit", driver.ErrClosed}}},
		{"CloseTwice", []step{{"Close", nil}, {"Close", driver.ErrClosed}}},
		{"WriteAfterClose", []step{{"Close", nil}, {"Write", driver.ErrClosed}}},
		{"CommitThenClose", []step{{"Commit", nil}, {"Close", nil}}},
		{"CommitTwice", []step{{"Commit", nil}, {"Commit", driver.ErrClosed}}},
		{"WriteAfterCommit", []step{{"Commit", nil}, {"Write", driver.ErrClosed}}},
		{"CancelAfterCommit", []step{{"Commit", nil}, {"Cancel", driver.ErrClosed}}},
		{"CancelThenClose", []step{{"Cancel", nil}, {"Close", nil}}},
		{"CancelThenCommit", []step{{"Cancel", nil}, {"Commit", driver.ErrClosed}}},
		{"CancelTwice", []step{{"Cancel", nil}, {"Cancel", driver.ErrClosed}}},
		{"WriteAfterCancel", []step{{"Cancel", nil}, {"Write", driver.ErrClosed}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := s.env(t)
			w := e.writer(e.d, e.p("f"), false)
			e.write(w, []byte("abc"))
			committed := false
			for _, st := range c.steps {
				var err error
				switch st.call {
				case "Close":
					err = w.Close()
				case "Commit":
					err = w.Commit(e.ctx)
				case "Cancel":
					err = w.Cancel(e.ctx)
				case "Write":
					_, err = w.Write([]byte("more"))
				}
				if st.want == nil {
					must(t, err, "%s", st.call)
					committed = committed || st.call == "Commit"
				} else {
					wantKind(t, err, st.want, "%s after %s", st.call, c.steps[0].call)
				}
			}
			d := e.fresh()
			if committed {
				e.wantContent(d, e.p("f"), []byte("abc"))
			} else if c.steps[0].call == "Cancel" {
				e.wantAbsent(d, e.p("f"))
			} else {
				w := e.writer(d, e.p("f"), true)
				wantSize(t, w, 3, "resume after "+c.name)
				must(t, w.Cancel(e.ctx), "Cancel")
			}
		})
	}
	t.Run("CloseThenCancel", func(t *testing.T) {
		// Cancel after Close discards the upload the writer closed (the
		// FileWriter doc), as a registry's DELETE of an upload does.
		e := s.env(t)
		w := e.writer(e.d, e.p("f"), false)
		e.write(w, []byte("abc"))
		must(t, w.Close(), "Close")
		must(t, w.Cancel(e.ctx), "Cancel after Close")
		_, err := e.fresh().Writer(e.ctx, e.p("f"), true)
		wantKind(t, err, driver.ErrNotFound, "resume after Cancel of a closed writer")
		e.noNewLeftovers("Cancel after Close")
	})
	t.Run("ErrClosedCarriesOp", func(t *testing.T) {
		e := s.env(t)
		w := e.writer(e.d, e.p("f"), false)
		must(t, w.Close(), "Close")
		err := w.Commit(e.ctx)
		var de *driver.Error
		if !errors.As(err, &de) || !errors.Is(err, driver.ErrClosed) {
			t.Fatalf("Commit after Close = %v, want a *driver.Error of kind ErrClosed", err)
		}
		if de.Driver != e.d.Name() || !strings.Contains(de.Op, "Commit") || de.Path != e.p("f") {
			t.Errorf("Commit after Close: error {Driver %q, Op %q, Path %q}, want {%q, ...Commit, %q}", de.Driver, de.Op, de.Path, e.d.Name(), e.p("f"))
		}
	})
}
