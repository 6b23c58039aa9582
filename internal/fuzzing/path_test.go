package fuzzing

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
)

// distributionRule is distribution's path rule, which ValidPath tightens.
var distributionRule = regexp.MustCompile(`^(/[A-Za-z0-9._-]+)+$`)

// validByRule is the contract's rule, written independently of ValidPath.
func validByRule(p string) bool {
	if !distributionRule.MatchString(p) {
		return false
	}
	comps := strings.Split(p[1:], "/")
	for _, c := range comps {
		if c == "." || c == ".." || len(c) > driver.MaxComponentLength {
			return false
		}
	}
	return "/"+comps[0] != driver.InternalPrefix
}

func FuzzValidPath(f *testing.F) {
	for _, s := range []string{"/", "/a", "/a/b", "/a//b", "a", "", "/a/", "/.", "/..", "/a/../b",
		"/.berth", "/.berth/x", "/.berthx", "/x/.berth", "/a b", "/ü", "/a\x00", "/" + strings.Repeat("a", 256),
		"/docker/registry/v2/blobs/sha256/ab/abcdef/data", "/_uploads/x-y.z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		valid := driver.ValidPath(p)
		if want := validByRule(p); valid != want {
			t.Fatalf("ValidPath(%q) = %v, the rule says %v", p, valid, want)
		}
		if got := driver.ValidDirPath(p); got != (p == "/" || valid) {
			t.Fatalf("ValidDirPath(%q) = %v", p, got)
		}
		if valid {
			if !driver.IsUnder(p, p) || !driver.IsUnder(p, "/") || driver.IsUnder(p, p+"x") {
				t.Fatalf("IsUnder is inconsistent for %q", p)
			}
			if i := strings.LastIndexByte(p, '/'); i > 0 && !driver.IsUnder(p, p[:i]) {
				t.Fatalf("%q is not under its parent %q", p, p[:i])
			}
		}

		// The Store refuses an invalid path before the backend is touched,
		// with ErrInvalidPath; a valid one reaches it (an empty store: not
		// found).
		d := memory.New(memory.NewShared())
		ctx := t.Context()
		_, err := d.GetContent(ctx, p)
		var de *driver.Error
		switch {
		case !valid && (!errors.Is(err, driver.ErrInvalidPath) || !errors.As(err, &de)):
			t.Fatalf("GetContent(%q): %v, want an *Error of ErrInvalidPath", p, err)
		case valid && !errors.Is(err, driver.ErrNotFound):
			t.Fatalf("GetContent(%q) on an empty store: %v, want ErrNotFound", p, err)
		}
		if _, err := d.Stat(ctx, p); p != "/" && !valid && !errors.Is(err, driver.ErrInvalidPath) {
			t.Fatalf("Stat(%q): %v", p, err)
		}
		if err := d.Move(ctx, p, "/dst"); !valid && !errors.Is(err, driver.ErrInvalidPath) {
			t.Fatalf("Move(%q): %v", p, err)
		}
		if valid {
			if err := d.PutContent(ctx, p, []byte(p)); err != nil {
				t.Fatalf("PutContent(%q): %v", p, err)
			}
			if b, err := d.GetContent(ctx, p); err != nil || string(b) != p {
				t.Fatalf("GetContent(%q) after PutContent: %q, %v", p, b, err)
			}
		}
	})
}
