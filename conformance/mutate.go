package conformance

import (
	"errors"
	"slices"
	"testing"

	"github.com/berthio/berth/driver"
)

func (s *suite) testMove(t *testing.T) {
	t.Run("Rename", func(t *testing.T) {
		e := s.env(t)
		data := e.payload(0, 1000)
		e.put(e.d, e.p("src"), data)
		must(t, e.d.Move(e.ctx, e.p("src"), e.p("dst")), "Move")
		d := e.fresh()
		e.wantContent(d, e.p("dst"), data)
		e.wantAbsent(d, e.p("src"))
	})
	t.Run("OverwriteDst", func(t *testing.T) {
		e := s.env(t)
		data := e.payload(0, 100)
		e.put(e.d, e.p("src"), data)
		e.put(e.d, e.p("dst"), e.payload(1, 64*kib))
		must(t, e.fresh().Move(e.ctx, e.p("src"), e.p("dst")), "Move onto an existing file")
		d := e.fresh()
		e.wantContent(d, e.p("dst"), data)
		e.wantAbsent(d, e.p("src"))
	})
	t.Run("MissingSrc", func(t *testing.T) {
		e := s.env(t)
		dst := e.payload(0, 10)
		e.put(e.d, e.p("dst"), dst)
		wantKind(t, e.d.Move(e.ctx, e.p("nothing"), e.p("dst")), driver.ErrNotFound, "Move of a missing source")
		wantKind(t, e.d.Move(e.ctx, e.p("nodir", "x"), e.p("new")), driver.ErrNotFound, "Move of a missing source")
		e.wantContent(e.fresh(), e.p("dst"), dst)
		e.wantAbsent(e.fresh(), e.p("new"))
	})
	t.Run("IntoNewNestedDirs", func(t *testing.T) {
		e := s.env(t)
		data := e.payload(0, 300)
		e.put(e.d, e.p("src"), data)
		dst := e.p("x", "y", "z", "dst")
		must(t, e.d.Move(e.ctx, e.p("src"), dst), "Move")
		d := e.fresh()
		e.wantContent(d, dst, data)
		if fi, err := d.Stat(e.ctx, e.p("x", "y")); err != nil || !fi.IsDir() {
			t.Errorf("Stat(%s) after Move into it: %v, want a directory", e.p("x", "y"), err)
		}
	})
	t.Run("SrcDirGone", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("from", "only"), []byte("x"))
		must(t, e.d.Move(e.ctx, e.p("from", "only"), e.p("to", "only")), "Move")
		d := e.fresh()
		_, err := d.List(e.ctx, e.p("from"))
		wantKind(t, err, driver.ErrNotFound, "List of a directory whose only file moved away")
		e.listed("List(dir) after Move", func() (bool, error) {
			got, err := d.List(e.ctx, e.dir)
			return slices.Equal(got, []string{e.p("to")}), err
		})
	})
	t.Run("EmptyFile", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("src"), nil)
		must(t, e.d.Move(e.ctx, e.p("src"), e.p("dst")), "Move")
		e.wantContent(e.fresh(), e.p("dst"), nil)
	})
	t.Run("Large", func(t *testing.T) {
		e := s.env(t)
		data := e.payload(0, 3*mib+11)
		e.upload(e.d, e.p("src"), data[:mib], data[mib:])
		must(t, e.fresh().Move(e.ctx, e.p("src"), e.p("a", "dst")), "Move")
		d := e.fresh()
		e.wantContent(d, e.p("a", "dst"), data)
		e.wantAbsent(d, e.p("src"))
	})
	t.Run("IntoItself", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("d", "f"), []byte("x"))
		wantKind(t, e.d.Move(e.ctx, e.p("d"), e.p("d", "sub")), driver.ErrInvalidPath, "Move of a directory into itself")
		e.wantContent(e.fresh(), e.p("d", "f"), []byte("x"))
	})
}

func (s *suite) testDelete(t *testing.T) {
	t.Run("File", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("f"), []byte("x"))
		e.put(e.d, e.p("g"), []byte("y"))
		must(t, e.d.Delete(e.ctx, e.p("f")), "Delete")
		e.wantAbsent(e.fresh(), e.p("f"))
		e.wantContent(e.fresh(), e.p("g"), []byte("y"))
	})
	t.Run("Recursive", func(t *testing.T) {
		e := s.env(t)
		for _, rel := range []string{"t/a", "t/b/c", "t/b/d/e/f", "t/g/h"} {
			e.put(e.d, e.p(rel), []byte(rel))
		}
		e.put(e.d, e.p("keep"), []byte("k"))
		must(t, e.fresh().Delete(e.ctx, e.p("t")), "Delete(dir)")
		d := e.fresh()
		for _, rel := range []string{"t/a", "t/b/c", "t/b/d/e/f", "t/g/h"} {
			e.wantAbsent(d, e.p(rel))
		}
		_, err := d.Stat(e.ctx, e.p("t"))
		wantKind(t, err, driver.ErrNotFound, "Stat of a deleted directory")
		e.listed("Walk after a recursive Delete", func() (bool, error) {
			got, err := walkPaths(e.ctx, d, e.dir)
			return slices.Equal(got, []string{e.p("keep")}), err
		})
	})
	t.Run("PrefixSafe", func(t *testing.T) {
		e := s.env(t)
		siblings := []string{"ab", "a-", "a.b", "a_", "abc/d", "a0/x"}
		for _, rel := range siblings {
			e.put(e.d, e.p(rel), []byte(rel))
		}
		e.put(e.d, e.p("a", "x"), []byte("x"))
		must(t, e.d.Delete(e.ctx, e.p("a")), "Delete(a)")
		d := e.fresh()
		e.wantAbsent(d, e.p("a", "x"))
		for _, rel := range siblings {
			e.wantContent(d, e.p(rel), []byte(rel))
		}
		wantKind(t, e.d.Delete(e.ctx, e.p("a")), driver.ErrNotFound, "second Delete(a)")
	})
	t.Run("Missing", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("f"), []byte("x"))
		wantKind(t, e.d.Delete(e.ctx, e.p("nothing")), driver.ErrNotFound, "Delete of a missing path")
		wantKind(t, e.d.Delete(e.ctx, e.p("nodir", "x")), driver.ErrNotFound, "Delete of a missing path")
		e.wantContent(e.fresh(), e.p("f"), []byte("x"))
	})
	t.Run("ClosedUploadUnderDir", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("up", "other"), []byte("x"))
		w := e.writer(e.d, e.p("up", "data"), false)
		e.write(w, []byte("deleted bytes"))
		must(t, w.Close(), "Close")
		must(t, e.fresh().Delete(e.ctx, e.p("up")), "Delete(dir)")
		d := e.fresh()
		_, err := d.Writer(e.ctx, e.p("up", "data"), true)
		wantKind(t, err, driver.ErrNotFound, "Writer(append=true) after Delete of the upload's directory")
		e.wantAbsent(d, e.p("up", "data"))
		e.noNewLeftovers("Delete of a directory holding a closed upload")
		// A new upload at the same path starts empty: the deleted bytes never return.
		e.upload(d, e.p("up", "data"), []byte("new"))
		e.wantContent(e.fresh(), e.p("up", "data"), []byte("new"))
	})
	t.Run("OpenWriterUnderDir", func(t *testing.T) {
		for _, then := range []string{"Close", "Commit"} {
			t.Run("Then"+then, func(t *testing.T) {
				e := s.env(t)
				w := e.writer(e.d, e.p("up", "data"), false)
				e.write(w, []byte("durable"))
				must(t, w.Close(), "Close")
				w = e.writer(e.d, e.p("up", "data"), true)
				e.write(w, []byte(" and pending"))
				must(t, e.fresh().Delete(e.ctx, e.p("up")), "Delete(dir) while a writer is open")
				var err error
				if then == "Close" {
					err = w.Close()
				} else {
					err = w.Commit(e.ctx)
				}
				if err == nil {
					t.Errorf("%s of a writer whose upload was deleted succeeded", then)
				}
				d := e.fresh()
				e.wantAbsent(d, e.p("up", "data"))
				_, err = d.Writer(e.ctx, e.p("up", "data"), true)
				wantKind(t, err, driver.ErrNotFound, "Writer(append=true) after Delete and %s", then)
				e.noNewLeftovers("Delete while a writer was open, then " + then)
			})
		}
	})
	t.Run("OnlyAnUpload", func(t *testing.T) {
		e := s.env(t)
		w := e.writer(e.d, e.p("data"), false)
		e.write(w, []byte("pending"))
		must(t, w.Close(), "Close")
		err := e.fresh().Delete(e.ctx, e.p("data"))
		if err != nil && !errors.Is(err, driver.ErrNotFound) {
			t.Errorf("Delete of a path holding only an upload: %v", err)
		}
		_, err = e.fresh().Writer(e.ctx, e.p("data"), true)
		wantKind(t, err, driver.ErrNotFound, "Writer(append=true) after Delete of the upload path")
		e.noNewLeftovers("Delete of a path holding only an upload")
	})
}
