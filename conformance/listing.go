package conformance

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/berthio/berth/driver"
)

func (s *suite) testList(t *testing.T) {
	t.Run("DirectChildren", func(t *testing.T) {
		e := s.env(t)
		for _, rel := range []string{"d/b/x", "d/a", "d/c/y/z", "d/b/w", "other"} {
			e.put(e.d, e.p(rel), []byte(rel))
		}
		got, err := e.fresh().List(e.ctx, e.p("d"))
		must(t, err, "List")
		if want := []string{e.p("d", "a"), e.p("d", "b"), e.p("d", "c")}; !slices.Equal(got, want) {
			t.Errorf("List(%s) = %q, want %q", e.p("d"), got, want)
		}
	})
	t.Run("SortedFullPaths", func(t *testing.T) {
		e := s.env(t)
		names := []string{"b", "a-", "a.", "a_", "A", "0", "a", "ab", "a-b/c"}
		for _, n := range names {
			e.put(e.d, e.p(n), []byte(n))
		}
		got, err := e.fresh().List(e.ctx, e.dir)
		must(t, err, "List")
		want := []string{}
		for _, n := range names {
			n, _, _ = strings.Cut(n, "/")
			want = append(want, e.p(n))
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("List(%s) = %q, want %q (sorted, full paths)", e.dir, got, want)
		}
	})
	t.Run("Root", func(t *testing.T) {
		e := s.env(t)
		if !s.emptyStart {
			t.Skip("the backend held data at the start: the root's listing is not ours to check")
		}
		e.put(e.d, e.p("f"), []byte("x"))
		got, err := e.fresh().List(e.ctx, "/")
		must(t, err, "List(/)")
		if want := []string{Root}; !s.hasStray() && !slices.Equal(got, want) {
			t.Errorf("List(/) = %q, want %q", got, want)
		}
	})
	t.Run("RootOfEmptyStore", func(t *testing.T) {
		e := s.env(t)
		if !s.emptyStart || s.hasStray() {
			t.Skip("the backend is not empty")
		}
		got, err := e.d.List(e.ctx, "/")
		must(t, err, "List(/) of an empty store")
		if len(got) != 0 {
			t.Errorf("List(/) of an empty store = %q", got)
		}
		if walked := e.walk(e.d, "/"); len(walked) != 0 {
			t.Errorf("Walk(/) of an empty store = %q", walked)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("f"), []byte("x"))
		for _, p := range []string{e.p("nodir"), e.p("nodir", "deeper"), e.p("f", "child")} {
			_, err := e.fresh().List(e.ctx, p)
			wantKind(t, err, driver.ErrNotFound, "List(%s)", p)
		}
	})
	t.Run("ParentGoneAfterDelete", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("keep"), []byte("x"))
		e.put(e.d, e.p("p", "q", "only"), []byte("x"))
		must(t, e.d.Delete(e.ctx, e.p("p", "q", "only")), "Delete")
		d := e.fresh()
		for _, dir := range []string{e.p("p", "q"), e.p("p")} {
			_, err := d.List(e.ctx, dir)
			wantKind(t, err, driver.ErrNotFound, "List(%s) after deleting its only file", dir)
			_, err = d.Stat(e.ctx, dir)
			wantKind(t, err, driver.ErrNotFound, "Stat(%s) after deleting its only file", dir)
		}
		e.listed("List(dir) shows only the kept file", func() (bool, error) {
			got, err := d.List(e.ctx, e.dir)
			return slices.Equal(got, []string{e.p("keep")}), err
		})
	})
	t.Run("HidesUploads", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("d", "file"), []byte("x"))
		w := e.writer(e.d, e.p("d", "upload"), false)
		e.write(w, []byte("pending"))
		must(t, w.Close(), "Close")
		w = e.writer(e.d, e.p("d", "open"), false)
		e.write(w, []byte("pending"))
		got, err := e.fresh().List(e.ctx, e.p("d"))
		must(t, err, "List")
		if want := []string{e.p("d", "file")}; !slices.Equal(got, want) {
			t.Errorf("List(%s) = %q, want %q: uploads must be invisible until Commit", e.p("d"), got, want)
		}
		must(t, w.Cancel(e.ctx), "Cancel")
	})
	t.Run("ReadAfterWriteOtherInstance", func(t *testing.T) {
		e := s.env(t)
		d := e.fresh()
		for i, name := range []string{"c", "a", "b"} {
			e.put(e.fresh(), e.p(name), []byte(name))
			e.listed("List after PutContent on another instance", func() (bool, error) {
				got, err := d.List(e.ctx, e.dir)
				return len(got) == i+1 && slices.Contains(got, e.p(name)), err
			})
		}
	})
}

// hasStray reports whether an earlier test left something visible.
func (s *suite) hasStray() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.knownVisible) > 0
}

func (s *suite) testWalk(t *testing.T) {
	// tree holds alphanumeric names only, where depth-first order and byte
	// order of the full paths agree.
	tree := []string{"a/a1", "a/a2/x", "a/b", "ab", "b/c/d/e", "c", "d/f1", "d/f2"}
	setup := func(t *testing.T) *env {
		e := s.env(t)
		for _, rel := range tree {
			e.put(e.d, e.p(rel), []byte(rel))
		}
		return e
	}
	all := func(e *env) []string {
		var out []string
		for _, rel := range tree {
			parts := strings.Split(rel, "/")
			for i := range parts {
				p := e.p(parts[:i+1]...)
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	t.Run("Order", func(t *testing.T) {
		e := setup(t)
		if got, want := e.walk(e.fresh(), e.dir), all(e); !slices.Equal(got, want) {
			t.Errorf("Walk(%s) =\n%q\nwant, in lexical order,\n%q", e.dir, got, want)
		}
	})
	t.Run("FileInfo", func(t *testing.T) {
		e := setup(t)
		err := e.fresh().Walk(e.ctx, e.dir, func(fi driver.FileInfo) error {
			rel := strings.TrimPrefix(fi.Path(), e.dir+"/")
			isFile := slices.Contains(tree, rel)
			if fi.IsDir() == isFile || isFile && fi.Size() != int64(len(rel)) {
				t.Errorf("Walk visits %s as {IsDir %v, Size %d}, want {IsDir %v, Size %d}", fi.Path(), fi.IsDir(), fi.Size(), !isFile, len(rel))
			}
			return nil
		})
		must(t, err, "Walk")
	})
	t.Run("Punctuation", func(t *testing.T) {
		e := s.env(t)
		names := []string{"a/x", "a-b", "a.b/y", "a_b", "a/-", "a/.z"}
		want := []string{e.p("a"), e.p("a.b")} // the directories
		for _, n := range names {
			e.put(e.d, e.p(n), []byte(n))
			want = append(want, e.p(n))
		}
		// Depth first, the entries of each directory in byte order of their
		// names (the Driver doc): "a" and all below it come before "a-b",
		// although "a-b" < "a/x" as whole paths.
		want = []string{e.p("a"), e.p("a", "-"), e.p("a", ".z"), e.p("a", "x"), e.p("a-b"), e.p("a.b"), e.p("a.b", "y"), e.p("a_b")}
		if got := e.walk(e.fresh(), e.dir); !slices.Equal(got, want) {
			t.Errorf("Walk(%s) =\n%q\nwant\n%q", e.dir, got, want)
		}
	})
	t.Run("SkipDir", func(t *testing.T) {
		e := setup(t)
		var got []string
		err := e.fresh().Walk(e.ctx, e.dir, func(fi driver.FileInfo) error {
			got = append(got, fi.Path())
			if fi.Path() == e.p("a") || fi.Path() == e.p("b", "c") {
				return driver.ErrSkipDir
			}
			return nil
		})
		must(t, err, "Walk")
		want := slices.DeleteFunc(all(e), func(p string) bool {
			return strings.HasPrefix(p, e.p("a")+"/") || strings.HasPrefix(p, e.p("b", "c")+"/")
		})
		if !slices.Equal(got, want) {
			t.Errorf("Walk with ErrSkipDir on a and b/c =\n%q\nwant\n%q", got, want)
		}
	})
	t.Run("FilledBuffer", func(t *testing.T) {
		e := setup(t)
		var got []string
		err := e.fresh().Walk(e.ctx, e.dir, func(fi driver.FileInfo) error {
			got = append(got, fi.Path())
			if len(got) == 3 {
				return driver.ErrFilledBuffer
			}
			return nil
		})
		must(t, err, "Walk stopped by ErrFilledBuffer")
		if want := all(e)[:3]; !slices.Equal(got, want) {
			t.Errorf("Walk stopped after 3 = %q, want %q", got, want)
		}
	})
	t.Run("StartAfterHint", func(t *testing.T) {
		e := setup(t)
		hint := e.p("a", "a2", "x")
		got, err := walkPaths(e.ctx, e.fresh(), e.dir, driver.WithStartAfterHint(hint))
		must(t, err, "Walk with start-after hint")
		var after, skipped []string
		for _, p := range all(e) {
			if p > hint {
				after = append(after, p)
			} else if !slices.Contains(got, p) {
				skipped = append(skipped, p)
			}
		}
		tail := slices.DeleteFunc(slices.Clone(got), func(p string) bool { return p <= hint })
		if !slices.Equal(tail, after) {
			t.Errorf("Walk after hint %s visited %q, want every later path in order: %q", hint, tail, after)
		}
		t.Logf("hint %s honoured for %d of %d earlier paths", hint, len(skipped), len(all(e))-len(after))
	})
	t.Run("Missing", func(t *testing.T) {
		e := s.env(t)
		_, err := walkPaths(e.ctx, e.d, e.p("nothing"))
		wantKind(t, err, driver.ErrNotFound, "Walk of a missing directory")
	})
	t.Run("CallerError", func(t *testing.T) {
		e := setup(t)
		stop := errors.New("caller's own error")
		n := 0
		err := e.fresh().Walk(e.ctx, e.dir, func(driver.FileInfo) error {
			n++
			if n == 2 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 2 {
			t.Errorf("Walk whose fn failed on the 2nd entry = %v after %d calls, want the fn's error after 2", err, n)
		}
	})
	t.Run("HidesUploads", func(t *testing.T) {
		e := setup(t)
		w := e.writer(e.d, e.p("a", "upload"), false)
		e.write(w, []byte("pending"))
		must(t, w.Close(), "Close")
		w = e.writer(e.d, e.p("zz", "open"), false)
		e.write(w, []byte("pending"))
		if got, want := e.walk(e.fresh(), e.dir), all(e); !slices.Equal(got, want) {
			t.Errorf("Walk with uploads in progress =\n%q\nwant\n%q", got, want)
		}
		must(t, w.Cancel(e.ctx), "Cancel")
	})
	t.Run("CancelMidWalk", func(t *testing.T) {
		e := setup(t)
		ctx, cancel := context.WithCancel(e.ctx)
		defer cancel()
		n := 0
		err := e.fresh().Walk(ctx, e.dir, func(driver.FileInfo) error {
			if n++; n == 2 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Walk cancelled on the 2nd entry = %v after %d entries, want context.Canceled", err, n)
		}
		if n > 3 {
			t.Logf("Walk went on for %d entries after its context was cancelled", n-2)
		}
	})
}
