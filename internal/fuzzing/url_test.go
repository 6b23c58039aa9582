package fuzzing

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
	"github.com/berthio/berth/nasfs"
)

// sandboxed returns nasfs's factory with every absolute root moved under
// dir, so that a fuzzed URL can never open (and probe, by writing a file)
// a real directory. Everything else about the URL is left to nasfs.
func sandboxed(dir string) driver.Factory {
	f := nasfs.Factory
	open := f.OpenURL
	f.OpenURL = func(ctx context.Context, u *url.URL) (*driver.Store, error) {
		if filepath.IsAbs(u.Path) {
			c := *u
			c.Path = filepath.Join(dir, u.Path)
			if c.Path != dir && !strings.HasPrefix(c.Path, dir+string(filepath.Separator)) {
				return nil, driver.ConfigError(nasfs.Name, "outside the sandbox")
			}
			u = &c
		}
		return open(ctx, u)
	}
	return f
}

func FuzzRegistryOpen(f *testing.F) {
	for _, s := range []string{
		"nasfs:///", "nasfs:///var/lib/registry", "nasfs://localhost/", "nasfs://host/x", "nasfs:///x?y=1",
		"nasfs://user:hunter2secret@/", "nasfs:relative", "memory://fuzz", "memory://", "memory://a?x=1",
		"s3://bucket", "", ":", "://", "%", "nasfs://[::1", "NASFS:///", "nasfs:///#frag",
		"memory://user:pa55word1234@name", "http://x:y@z/%zz",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	reg := driver.NewRegistry(memory.Factory, sandboxed(dir))
	f.Fuzz(func(t *testing.T, raw string) {
		d, err := reg.Open(t.Context(), raw)
		if err == nil {
			if d == nil {
				t.Fatalf("Open(%q) returned neither a store nor an error", raw)
			}
			if _, err := d.Stat(t.Context(), "/"); err != nil && !errors.Is(err, driver.ErrNotFound) {
				t.Fatalf("Open(%q) gave a store whose Stat(\"/\") fails: %v", raw, err)
			}
			return
		}
		var de *driver.Error
		if !errors.As(err, &de) || driver.KindOf(err) == nil {
			t.Fatalf("Open(%q) = %v (%T): want a *driver.Error with a kind", raw, err, err)
		}
		// A password in the URL is never echoed: look for one that occurs
		// nowhere else in the URL, so that echoing the rest is no false
		// alarm.
		if u, perr := url.Parse(raw); perr == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && len(pw) >= 6 && strings.Count(raw, pw) == 1 {
				if strings.Contains(err.Error(), pw) {
					t.Fatalf("Open(%q): error %q echoes the password", raw, err)
				}
			}
		}
	})
}
