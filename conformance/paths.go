package conformance

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/berthio/berth/driver"
)

// invalidPaths are rejected by every method with ErrInvalidPath before the
// backend is touched. nested: the path appended to a test directory is
// still invalid, so it is tried there too.
var invalidPaths = []struct {
	name, path string
	nested     bool
}{
	{"empty", "", false},
	{"relative", "a", false},
	{"relative-nested", "a/b", false},
	{"trailing-slash", "/a/", true},
	{"leading-double-slash", "//a", true},
	{"double-slash", "/a//b", true},
	{"dotdot", "/a/../b", true},
	{"dot", "/./a", true},
	{"trailing-dot", "/a/.", true},
	{"trailing-dotdot", "/a/..", true},
	{"only-dotdot", "/..", true},
	{"space", "/a b", true},
	{"nul", "/a\x00b", true},
	{"newline", "/a\nb", true},
	{"unicode", "/caf\u00e9", true},
	{"colon", "/a:b", true},
	{"backslash", `/a\b`, true},
	{"star", "/a*b", true},
	{"plus", "/a+b", true},
	{"reserved-prefix", driver.InternalPrefix, false},
	{"reserved-prefix-child", driver.InternalPrefix + "/x", false},
	{"reserved-prefix-deep", driver.InternalPrefix + "/uploads/a/b", false},
	{"overlong-component", "/" + strings.Repeat("a", driver.MaxComponentLength+1), true},
}

// validPaths are odd but valid, relative to a test directory.
var validPaths = []struct{ name, rel string }{
	{"dash", "-"},
	{"underscore", "_"},
	{"three-dots", "..."},
	{"hidden", ".a"},
	{"mixed", "A-b_c.D9"},
	{"digit", "0"},
	{"deep", "a/b/c/d/e/f/g/h/i/j/k/l"},
	{"max-component", strings.Repeat("x", driver.MaxComponentLength)},
	{"berth-lookalike", ".berthx"},
	{"nested-berth", ".berth/x"},
	{"dotdot-prefix", "..a"},
}

func (s *suite) testPaths(t *testing.T) {
	t.Run("Invalid", func(t *testing.T) {
		for _, c := range invalidPaths {
			t.Run(c.name, func(t *testing.T) {
				e := s.env(t)
				e.invalidPath(c.path)
				if c.nested {
					e.invalidPath(e.dir + c.path)
				}
			})
		}
	})
	t.Run("Valid", func(t *testing.T) {
		for _, c := range validPaths {
			t.Run(c.name, func(t *testing.T) { s.env(t).validPath(c.rel) })
		}
	})
	t.Run("RootOnlyForDirMethods", func(t *testing.T) {
		e := s.env(t)
		e.put(e.d, e.p("f"), []byte("x"))
		e.invalidPath("/")
		fi, err := e.d.Stat(e.ctx, "/")
		must(t, err, "Stat(/)")
		if !fi.IsDir() {
			t.Errorf("Stat(/).IsDir() = false")
		}
		_, err = e.d.List(e.ctx, "/")
		must(t, err, "List(/)")
		_, err = walkPaths(e.ctx, e.d, "/")
		must(t, err, "Walk(/)")
	})
	t.Run("InternalPrefixHidden", func(t *testing.T) {
		e := s.env(t)
		w := e.writer(e.d, e.p("up"), false)
		e.write(w, []byte("pending"))
		must(t, w.Close(), "Close")
		e.put(e.d, e.p("f"), []byte("x"))
		root, err := e.fresh().List(e.ctx, "/")
		must(t, err, "List(/)")
		walked := e.walk(e.fresh(), "/")
		for _, p := range slices.Concat(root, walked) {
			if !driver.ValidPath(p) || p == e.p("up") {
				t.Errorf("List/Walk(/) shows %q: internal state or an uncommitted upload", p)
			}
		}
		if !slices.Contains(walked, e.p("f")) {
			t.Errorf("Walk(/) = %q, missing %s", walked, e.p("f"))
		}
	})
}

// invalidPath calls every method with p, which must fail with
// ErrInvalidPath as an *driver.Error, and checks that nothing was written.
func (e *env) invalidPath(p string) {
	e.t.Helper()
	t, ctx, d := e.t, e.ctx, e.d
	src := e.p("src")
	e.put(d, src, []byte("source"))
	before := e.visible()
	check := func(method string, err error) {
		t.Helper()
		if !wantKind(t, err, driver.ErrInvalidPath, "%s(%q)", method, p) {
			return
		}
		var de *driver.Error
		if !errors.As(err, &de) {
			t.Errorf("%s(%q): error %T is not a *driver.Error", method, p, err)
		}
	}
	dirMethod := p == "/"
	_, err := d.GetContent(ctx, p)
	check("GetContent", err)
	check("PutContent", d.PutContent(ctx, p, []byte("x")))
	rc, err := d.Reader(ctx, p, 0)
	if err == nil {
		rc.Close()
	}
	check("Reader", err)
	rc, err = d.ReadRange(ctx, p, 0, 1)
	if err == nil {
		rc.Close()
	}
	check("ReadRange", err)
	for _, app := range []bool{false, true} {
		w, err := d.Writer(ctx, p, app)
		if err == nil {
			_ = w.Cancel(context.Background())
		}
		check("Writer", err)
	}
	check("Move(src=bad)", d.Move(ctx, p, e.p("dst")))
	check("Move(dst=bad)", d.Move(ctx, src, p))
	check("Delete", d.Delete(ctx, p))
	_, err = d.RedirectURL(httptest.NewRequest("GET", "http://registry.test/v2/", nil), p)
	check("RedirectURL", err)
	if !dirMethod {
		_, err = d.Stat(ctx, p)
		check("Stat", err)
		_, err = d.List(ctx, p)
		check("List", err)
		check("Walk", d.Walk(ctx, p, func(driver.FileInfo) error { return nil }))
	}
	if after := e.visible(); !slices.Equal(before, after) {
		t.Errorf("calls with the invalid path %q changed the store: before %q, after %q", p, before, after)
	}
	e.wantContent(e.fresh(), src, []byte("source"))
}

// validPath writes, reads, lists and deletes an odd but valid path.
func (e *env) validPath(rel string) {
	t := e.t
	p := e.p(rel)
	parent := p[:strings.LastIndexByte(p, '/')]
	want := []byte("content of " + rel)
	e.put(e.d, p, want)
	e.wantContent(e.fresh(), p, want)
	list, err := e.fresh().List(e.ctx, parent)
	must(t, err, "List(%s)", parent)
	if !slices.Contains(list, p) {
		t.Errorf("List(%s) = %q, missing %s", parent, list, p)
	}
	if walked := e.walk(e.fresh(), e.dir); !slices.Contains(walked, p) {
		t.Errorf("Walk(%s) = %q, missing %s", e.dir, walked, p)
	}
	must(t, e.fresh().Delete(e.ctx, p), "Delete(%s)", p)
	e.wantAbsent(e.fresh(), p)
}
