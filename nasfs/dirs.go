package nasfs

import (
	"errors"
	"io/fs"
	"os"
	"path"
)

// dirHandle is a directory held open for a few operations of one call, so
// that they name entries by one component instead of walking the path from
// the root again for each (a walk is an openat and a close per component;
// registry paths have eight or more). A handle is never kept beyond the
// call: a directory that Delete moves to the trash must not receive files.
type dirHandle struct {
	rel string   // path relative to the root, for the portable fallback
	r   *os.Root // the directory, for single-component lookups
	f   *os.File // the same directory, for its descriptor and fsync
}

// openDir opens dir (relative to the root) without following symlinks.
func (b *backend) openDir(dir string) (*dirHandle, error) {
	if dir == "" {
		dir = "."
	}
	r, err := b.root.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return wrapDir(dir, r)
}

// wrapDir makes a handle of an open root, which it then owns.
func wrapDir(rel string, r *os.Root) (*dirHandle, error) {
	f, err := r.Open(".")
	if err != nil {
		r.Close()
		return nil, err
	}
	return &dirHandle{rel: rel, r: r, f: f}, nil
}

// openParent opens the directory that will hold the user path p (relative),
// creating it and its parents when missing.
func (b *backend) openParent(p string) (*dirHandle, error) {
	dir := path.Dir(p)
	for range retries {
		h, err := b.openDir(dir)
		if !errors.Is(err, fs.ErrNotExist) {
			return h, err
		}
		if err := b.mkdirAll(dir); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("parent directory kept disappearing")
}

func (h *dirHandle) close() {
	h.f.Close()
	h.r.Close()
}

func (h *dirHandle) sync() error { return h.f.Sync() }
