//go:build cgo

package rados

import (
	"context"
	"strings"

	"github.com/berthio/berth/driver"
)

// Delete removes, at and below p, the files, then the uploads in
// progress, in both trees, each entry by a compare-and-swap that removes
// what was read, then its chunks, then the emptied directories. Files and
// uploads created under p while it runs may survive it. Siblings sharing
// p's prefix (/a and /ab) live in other entries and directory objects and
// are never read.
func (b *backend) Delete(ctx context.Context, p string) error {
	dir, name := split(p)
	found := false
	old, err := b.removeFile(p)
	if err != nil {
		return err
	}
	if old != nil {
		found = true
		b.dropFile(old, nil)
	}
	up, err := b.removeUpload(dir, name, nil)
	if err != nil {
		return err
	}
	found = found || up
	for _, tree := range []byte{treeFiles, treeUploads} {
		n, err := b.deleteTree(ctx, tree, p)
		if err != nil {
			return err
		}
		found = found || n > 0
		if err := b.prune(tree, dir); err != nil {
			return err
		}
	}
	if !found {
		return driver.Errorf(driver.ErrNotFound, "nothing at or below %s", p)
	}
	return nil
}

// deleteTree removes everything below dir in tree and reports how many
// entries it removed.
func (b *backend) deleteTree(ctx context.Context, tree byte, dir string) (int, error) {
	var subdirs, files, uploads []string
	err := b.entries(ctx, b.io, dirObj(tree, dir), func(key string, _ []byte) error {
		switch {
		case strings.HasPrefix(key, keyDir):
			subdirs = append(subdirs, key[len(keyDir):])
		case strings.HasPrefix(key, keyFile):
			files = append(files, key[len(keyFile):])
		case strings.HasPrefix(key, keyUpload):
			uploads = append(uploads, key[len(keyUpload):])
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range files {
		old, err := b.removeFile(child(dir, name))
		if err != nil {
			return n, err
		}
		if old != nil {
			n++
			b.dropFile(old, nil)
		}
	}
	for _, name := range uploads {
		ok, err := b.removeUpload(dir, name, nil)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	for _, name := range subdirs {
		m, err := b.deleteTree(ctx, tree, child(dir, name))
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, b.prune(tree, dir)
}
