package nasfs

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/berthio/berth/driver"
)

var _ driver.Sweeper = (*backend)(nil)

// Sweep removes what killed processes left under .berth: staging files and
// trash older than olderThan, and upload slots whose last record is
// committed or cancelled (their teardown did not run). Uploads in progress
// are left alone: purging abandoned uploads is the registry's decision
// (distribution's upload purger deletes their directories).
func (b *backend) Sweep(ctx context.Context, olderThan time.Duration) error {
	cutoff := time.Now().Add(-olderThan)
	old := func(fi fs.FileInfo) bool { return !fi.ModTime().After(cutoff) }
	for _, dir := range []string{tmpDir, trashDir} {
		entries, err := b.readInternalDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && old(fi) {
				if err := b.root.RemoveAll(dir + "/" + e.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
		}
	}
	return b.sweepSlots(ctx, uploadsDir, old)
}

func (b *backend) readInternalDir(dir string) ([]fs.DirEntry, error) {
	d, err := b.root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadDir(-1)
}

func (b *backend) sweepSlots(ctx context.Context, dir string, old func(fs.FileInfo) bool) error {
	entries, err := b.readInternalDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := dir + "/" + e.Name()
		if !e.IsDir() {
			continue
		}
		if !strings.HasSuffix(e.Name(), slotSuffix) {
			if err := b.sweepSlots(ctx, name, old); err != nil {
				return err
			}
			continue
		}
		fi, err := e.Info()
		if err != nil || !old(fi) {
			continue
		}
		s := &slot{b: b, name: name}
		if s.dir, err = b.root.OpenRoot(name); err != nil {
			continue
		}
		if h, err := s.latest(); err == nil && h.sealed {
			s.teardown()
		}
		s.close()
	}
	return nil
}

// Leftovers lists everything under the internal directory of the nasfs
// root at dir that is not part of its empty skeleton: staging files, trash,
// upload slots and their files. The conformance suite uses it to prove that
// nothing is left behind.
func Leftovers(dir string) ([]string, error) {
	var out []string
	err := walkFiles(path.Join(dir, internalDir), func(p string, isDir bool) bool {
		inTrash := path.Dir(p) == path.Join(dir, trashDir)
		if isDir && !inTrash && !strings.HasSuffix(p, slotSuffix) {
			return false // skeleton directory: not a leftover by itself
		}
		out = append(out, strings.TrimPrefix(p, dir))
		return !isDir
	})
	return out, err
}
