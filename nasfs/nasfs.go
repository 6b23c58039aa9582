package nasfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"sync"

	"github.com/berthio/berth/driver"
)

type backend struct {
	cfg  Config
	root *os.Root // every access goes through it: nothing escapes Root
	// rootDir is the root directory held open, for reads that resolve a
	// whole path beneath it in one system call (openBeneath).
	rootDir *os.File

	mu     sync.Mutex
	trashH *dirHandle // .berth/trash, held open; nil until needed
}

var _ driver.Backend = (*backend)(nil)
var _ driver.Classifier = (*backend)(nil)

func (b *backend) Name() string { return Name }

func (b *backend) Capabilities() driver.Capabilities {
	return driver.Capabilities{
		Listing:               driver.Strong,
		Fencing:               driver.FencingStrict,
		SharedAcrossProcesses: true,
	}
}

// As exposes the *os.Root of the shared directory.
func (b *backend) As(target any) bool {
	if p, ok := target.(**os.Root); ok {
		*p = b.root
		return true
	}
	return false
}

func fileInfo(p string, fi fs.FileInfo) driver.FileInfo {
	f := driver.FileInfoFields{Path: p, ModTime: fi.ModTime(), IsDir: fi.IsDir()}
	if !fi.IsDir() {
		f.Size = fi.Size()
	}
	return driver.FileInfoInternal{FileInfoFields: f}
}

// openFile opens a regular file at a user path; a directory is not found.
func (b *backend) openFile(p string) (*os.File, fs.FileInfo, error) {
	f, err := b.open(rel(p))
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = driver.Errorf(driver.ErrNotFound, "not a file")
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

func (b *backend) GetContent(_ context.Context, p string) ([]byte, error) {
	f, fi, err := b.openFile(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, err // files are replaced, never changed in place
	}
	return buf, nil
}

func (b *backend) PutContent(_ context.Context, p string, content []byte) error {
	f, tmp, err := b.createTemp()
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if err == nil {
		err = f.Sync()
	}
	var own fs.FileInfo
	if err == nil {
		own, err = f.Stat()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = b.renameInto(tmp, rel(p), own)
	}
	if err != nil {
		b.root.Remove(tmp)
	}
	return err
}

// NewRangeReader reads from an open file descriptor: a concurrent replace
// of the path swaps the directory entry, not these bytes (F18).
func (b *backend) NewRangeReader(_ context.Context, p string, offset, length int64) (io.ReadCloser, error) {
	f, fi, err := b.openFile(p)
	if err != nil {
		return nil, err
	}
	if offset > fi.Size() {
		f.Close()
		return nil, driver.Errorf(driver.ErrInvalidOffset, "offset %d is past the end (%d bytes)", offset, fi.Size())
	}
	if length < 0 {
		length = fi.Size() - offset
	}
	return &fileReader{f: f, r: io.NewSectionReader(f, offset, length)}, nil
}

type fileReader struct {
	f *os.File
	r *io.SectionReader
}

func (r *fileReader) Read(p []byte) (int, error) { return r.r.Read(p) }
func (r *fileReader) Close() error               { return r.f.Close() }

func (b *backend) Stat(_ context.Context, p string) (driver.FileInfo, error) {
	name := rel(p)
	if p == "/" {
		name = "."
	}
	fi, err := b.stat(name)
	if err != nil {
		return nil, err
	}
	return fileInfo(p, fi), nil
}

func (b *backend) List(_ context.Context, p string) ([]string, error) {
	entries, err := b.readDir(p)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 && p != "/" {
		return nil, driver.Errorf(driver.ErrNotFound, "empty directory")
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, path.Join(p, e.Name()))
	}
	return out, nil
}

// readDir lists a user directory, sorted, without the internal directory.
func (b *backend) readDir(p string) ([]fs.DirEntry, error) {
	name := rel(p)
	if p == "/" {
		name = "."
	}
	// Through os.Root: its directories' entries stat relative to the open
	// directory, where a file made from a bare descriptor would stat by name.
	d, err := b.root.Open(name)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if fi, err := d.Stat(); err != nil || !fi.IsDir() {
		return nil, driver.Errorf(driver.ErrNotFound, "not a directory")
	}
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	out := entries[:0]
	for _, e := range entries {
		if p == "/" && e.Name() == internalDir {
			continue
		}
		out = append(out, e)
	}
	sortEntries(out)
	return out, nil
}

func (b *backend) Walk(ctx context.Context, p string, fn driver.WalkFn, opts driver.WalkOptions) error {
	if p != "/" {
		fi, err := b.stat(rel(p))
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return driver.Errorf(driver.ErrNotFound, "not a directory")
		}
	}
	return b.walk(ctx, p, fn, opts.StartAfterHint)
}

func (b *backend) walk(ctx context.Context, dir string, fn driver.WalkFn, after string) error {
	entries, err := b.readDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed while we walked
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		child := path.Join(dir, e.Name())
		if after != "" && child <= after && !driver.IsUnder(after, child) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if after == "" || child > after {
			err = fn(fileInfo(child, info))
		}
		if err == nil && info.IsDir() {
			err = b.walk(ctx, child, fn, after)
		}
		if err != nil && !(err == driver.ErrSkipDir && info.IsDir()) {
			return err
		}
	}
	return nil
}

// Move renames a file. rename(2) replaces dst atomically, and of two
// processes renaming one source exactly one finds it (F2): the other gets
// ENOENT, reported as ErrNotFound.
func (b *backend) Move(_ context.Context, src, dst string) error {
	fi, err := b.root.Lstat(rel(src))
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return driver.Errorf(driver.ErrNotFound, "not a file")
	}
	srcDir := path.Dir(rel(src))
	if err := b.renameInto(rel(src), rel(dst), nil, srcDir); err != nil {
		return err
	}
	b.pruneEmpty(srcDir, ".")
	return nil
}

// Delete renames the path's subtree, and the upload slots under it, into
// the trash in one step each, then removes them. Readers see the subtree
// whole or gone; writers of a deleted upload find their slot moved and fail
// with ErrConflict instead of resurrecting the data.
func (b *backend) Delete(_ context.Context, p string) error {
	targets := []string{rel(p), uploadsDir + p, slotRel(p)}
	found := false
	for _, t := range targets {
		moved, err := b.toTrash(t)
		if err != nil {
			return err
		}
		found = found || moved
	}
	if !found {
		return driver.ErrNotFound
	}
	b.pruneEmpty(path.Dir(rel(p)), ".")
	b.pruneEmpty(path.Dir(uploadsDir+p), uploadsDir)
	return nil
}

// toTrash moves name into the trash and removes it there. It reports
// whether name existed.
func (b *backend) toTrash(name string) (bool, error) {
	dst := trashDir + "/" + randomID()
	err := b.root.Rename(name, dst)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := b.root.Lstat(name); errors.Is(serr, fs.ErrNotExist) {
			return false, nil // nothing there, or someone else deleted it first
		} else if serr != nil {
			return false, serr
		}
		if err = b.mkdirAll(trashDir); err == nil { // the trash itself was missing
			err = b.root.Rename(name, dst)
		}
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("move to trash: %w", err)
	}
	// A fenced writer may still link a file into the moved directory
	// before it notices; it removes it again, and so do we.
	for range 3 {
		if err = b.root.RemoveAll(dst); err == nil {
			return true, nil
		}
	}
	return true, fmt.Errorf("empty trash: %w", err)
}

func (b *backend) RedirectURL(*http.Request, string) (string, error) { return "", nil }
