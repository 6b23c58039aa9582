package objkey

import "testing"

func TestLayout(t *testing.T) {
	for _, tc := range []struct {
		root              Layout
		p, key, dir, back string
	}{
		{"", "/a/b", "a/b", "a/b/", "/a/b"},
		{"", "/", "", "", "/"},
		{"docker/registry", "/a", "docker/registry/a", "docker/registry/a/", "/a"},
		{"docker/registry", "/", "docker/registry", "docker/registry/", "/"},
	} {
		if got := tc.root.Key(tc.p); got != tc.key {
			t.Errorf("%q.Key(%q) = %q, want %q", tc.root, tc.p, got, tc.key)
		}
		if got := tc.root.Dir(tc.p); got != tc.dir {
			t.Errorf("%q.Dir(%q) = %q, want %q", tc.root, tc.p, got, tc.dir)
		}
		if got := tc.root.Path(tc.root.Key(tc.p)); got != tc.back {
			t.Errorf("%q.Path(Key(%q)) = %q, want %q", tc.root, tc.p, got, tc.back)
		}
	}
}
