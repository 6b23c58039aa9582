package nasfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/berthio/berth/driver"
)

// Layout under the root. User paths map to the same relative paths, as in
// distribution's filesystem driver, so an existing registry directory can be
// opened as it is. Internal state lives under .berth, which the portable
// layer forbids as a user path.
const (
	internalDir = ".berth"
	tmpDir      = ".berth/tmp"     // PutContent, Commit and Move staging
	uploadsDir  = ".berth/uploads" // one slot per upload path: <path>~u
	trashDir    = ".berth/trash"   // subtrees renamed away by Delete before removal
	slotSuffix  = "~u"             // '~' is never in a valid component
)

// retries bounds loops that race other processes creating and removing
// directories; each round makes progress unless another process does.
const retries = 64

func rel(p string) string { return strings.TrimPrefix(p, "/") }

func slotRel(p string) string { return uploadsDir + p + slotSuffix }

func randomID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// classify maps OS errors to driver kinds.
func classify(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR):
		return driver.ErrNotFound
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return driver.ErrPermission
	case errors.Is(err, syscall.ENAMETOOLONG):
		return driver.ErrInvalidPath
	case errors.Is(err, syscall.EFBIG):
		return driver.ErrTooLarge
	case err != nil && strings.Contains(err.Error(), "path escapes from parent"):
		return driver.ErrPermission
	}
	return nil
}

func (b *backend) ClassifyError(err error) error { return classify(err) }

// mkdirAll creates dir and its parents, tolerating another process that
// prunes empty directories at the same time.
func (b *backend) mkdirAll(dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	var err error
	for range retries {
		// A concurrent prune can remove a parent between MkdirAll's steps;
		// each round creates at least the parent it found missing.
		if err = b.root.MkdirAll(dir, 0o755); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}

// syncDirs makes the entries of several directories durable at once: the
// fsyncs run together, so that a journaling file system commits them in
// one go rather than one after the other. A directory that is gone (a
// concurrent prune) has nothing left to make durable.
func (b *backend) syncDirs(dirs ...string) error {
	errs := make(chan error, len(dirs))
	for _, dir := range dirs[1:] {
		go func() { errs <- b.syncDir(dir) }()
	}
	first := b.syncDir(dirs[0])
	for range dirs[1:] {
		if err := <-errs; first == nil && !errors.Is(err, fs.ErrNotExist) {
			first = err
		}
	}
	return first
}

// syncDir makes a directory's entries durable (after a rename or link).
func (b *backend) syncDir(dir string) error {
	if dir == "" {
		dir = "."
	}
	d, err := b.root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// createTemp creates an exclusive temporary file under tmpDir.
func (b *backend) createTemp() (*os.File, string, error) {
	for range retries {
		name := tmpDir + "/" + randomID()
		f, err := b.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrNotExist) {
			if err := b.mkdirAll(tmpDir); err != nil {
				return nil, "", err
			}
			continue
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", errors.New("could not create a temporary file")
}

// renameInto renames tmp to the user path dst, creating dst's parent
// directories, retrying while a concurrent prune removes them, then syncs
// dst's directory. own, when tmp is this call's private file (PutContent's
// temporary), is tmp's FileInfo: a rename that acted but reported ENOENT,
// as an NFS client does when it retransmits a call whose reply was lost,
// is then recognised by dst being tmp's inode. Move's source is not
// private (own nil): another instance may have moved it, and the loser of
// that race gets ErrNotFound. Directories in also are synced with dst's.
func (b *backend) renameInto(tmp, dst string, own fs.FileInfo, also ...string) error {
	parent := path.Dir(dst)
	err := b.root.Rename(tmp, dst)
	for i := 0; errors.Is(err, fs.ErrNotExist) && i < retries; i++ {
		if _, serr := b.root.Lstat(tmp); errors.Is(serr, fs.ErrNotExist) {
			if now, derr := b.root.Lstat(dst); own != nil && derr == nil && os.SameFile(own, now) {
				err = nil // our rename acted; its reply was lost
				break
			}
			return err // tmp is gone: not a missing parent
		} else if serr != nil {
			return serr
		}
		if err = b.mkdirAll(parent); err != nil {
			return err
		}
		err = b.root.Rename(tmp, dst)
	}
	if err != nil {
		if fi, serr := b.root.Lstat(dst); serr == nil && fi.IsDir() {
			return driver.Errorf(driver.ErrConflict, "%s is a directory", "/"+dst)
		}
		return err
	}
	return b.syncDirs(append([]string{parent}, also...)...)
}

// pruneEmpty removes dir and its parents while they are empty, stopping at
// stop (exclusive) or at the first directory that is not empty. Another
// process creating an entry at the same time makes its own mkdir retry.
func (b *backend) pruneEmpty(dir, stop string) {
	for dir != "." && dir != "" && dir != stop && dir != "/" {
		if err := b.root.Remove(dir); err != nil {
			return
		}
		dir = path.Dir(dir)
	}
}

// probe checks that the root is writable, creating the internal layout.
func (b *backend) probe() error {
	for _, dir := range []string{tmpDir, trashDir} {
		if err := b.mkdirAll(dir); err != nil {
			return err
		}
	}
	f, name, err := b.createTemp()
	if err != nil {
		return err
	}
	f.Close()
	// Another instance's Sweep may remove our probe first: creating it
	// proved the root writable.
	if err := b.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func sortEntries(es []fs.DirEntry) {
	slices.SortFunc(es, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
}

// walkFiles calls fn for every file and directory below dir (not dir
// itself), depth first; fn returning true for a directory skips its
// contents.
func walkFiles(dir string, fn func(p string, isDir bool) (skip bool)) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := dir + "/" + e.Name()
		if fn(p, e.IsDir()) || !e.IsDir() {
			continue
		}
		if err := walkFiles(p, fn); err != nil {
			return err
		}
	}
	return nil
}
