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
// registry paths have eight or more). A handle on a user or upload
// directory is never kept beyond the call: a directory that Delete moves to
// the trash must not receive files.
type dirHandle struct {
	rel      string   // path relative to the root, for the portable fallback
	r        *os.Root // the directory, for single-component lookups
	f        *os.File // the same directory as a file, opened when needed
	borrowed bool     // r belongs to someone else: close leaves it open
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
	return &dirHandle{rel: dir, r: r}, nil
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

// file returns the directory as an open file, for its descriptor.
func (h *dirHandle) file() (*os.File, error) {
	if h.f == nil {
		f, err := h.r.Open(".")
		if err != nil {
			return nil, err
		}
		h.f = f
	}
	return h.f, nil
}

func (h *dirHandle) sync() error {
	f, err := h.file()
	if err != nil {
		return err
	}
	return f.Sync()
}

func (h *dirHandle) close() {
	if h.f != nil {
		h.f.Close()
	}
	if !h.borrowed {
		h.r.Close()
	}
}

// trash returns the instance's handle on the trash directory, opening it
// (and creating the directory) the first time. Unlike user directories the
// trash is never moved, so holding it open is safe; its file is opened
// here, so that concurrent callers only read the handle.
func (b *backend) trash() (*dirHandle, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.trashH != nil {
		return b.trashH, nil
	}
	if err := b.mkdirAll(trashDir); err != nil {
		return nil, err
	}
	h, err := b.openDir(trashDir)
	if err != nil {
		return nil, err
	}
	if _, err := h.file(); err != nil {
		h.close()
		return nil, err
	}
	b.trashH = h
	return h, nil
}

// dropTrash forgets h after the trash directory was found removed, so that
// the next call opens it anew. h is not closed, since another goroutine may
// be using it; the garbage collector closes it.
func (b *backend) dropTrash(h *dirHandle) {
	b.mu.Lock()
	if b.trashH == h {
		b.trashH = nil
	}
	b.mu.Unlock()
}

// errEscapes reads as os.Root's error for a path that leaves the root,
// which classify maps to ErrPermission.
var errEscapes = errors.New("path escapes from parent")

// open opens name, beneath the root, for reading: in one system call where
// the platform resolves a path beneath a directory (openBeneath), else
// through os.Root, which opens every directory on the way.
func (b *backend) open(name string) (*os.File, error) {
	f, err := b.openBeneath(name, false)
	if errors.Is(err, errors.ErrUnsupported) {
		return b.root.Open(name)
	}
	return f, err
}

// stat is os.Root's Stat (symlinks followed beneath the root), resolved
// as open does.
func (b *backend) stat(name string) (fs.FileInfo, error) {
	f, err := b.openBeneath(name, true)
	if errors.Is(err, errors.ErrUnsupported) {
		return b.root.Stat(name)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}
