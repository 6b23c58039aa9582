//go:build cgo

package rados

import (
	"slices"

	"github.com/ceph/go-ceph/rados"
)

// Directories exist while their object holds an entry. Two orders keep a
// directory's link in its parent ("d:<name>") right without a
// transaction across objects:
//
//   - link, after an entry is added: bottom-up, each level's link is set
//     after the level below holds something, stopping at the first link
//     that exists;
//   - prune, after an entry is removed: top-down per level, the parent's
//     link is removed first, then the empty directory object, with a
//     version assertion (the object must still be the empty one that was
//     read). If the assertion fails, something was added meanwhile: the
//     link is put back.
//
// A creator that found a link present did so after its own entry existed,
// so a pruner that removes that link afterwards fails its version
// assertion and restores the link. One race is left: a creator that reads
// "no link", is overtaken by a Delete of its own new file and its pruning,
// and then sets the link, leaves a link to an empty directory; List shows
// that name until Sweep removes the link (see sweep.go).

// link makes dir reachable from the root of tree.
func (b *backend) link(tree byte, dir string) error {
	for dir != "/" {
		parent, name := split(dir)
		v, err := b.getEntry(dirObj(tree, parent), keyDir+name)
		if err != nil {
			return err
		}
		if v != nil {
			return nil
		}
		if err := b.setKey(dirObj(tree, parent), keyDir+name); err != nil {
			return err
		}
		dir = parent
	}
	return nil
}

// emptyAt reads whether oid holds no entry, and its version.
func emptyAt(io *rados.IOContext, oid string) (empty, exists bool, ver uint64, err error) {
	m, err := io.GetOmapValues(oid, "", "", 1)
	if isNotFound(err) {
		return true, false, 0, nil
	}
	if err != nil {
		return false, false, 0, err
	}
	ver, err = io.GetLastVersion()
	return len(m) == 0, true, ver, err
}

// prune removes dir and then its ancestors while they are empty. Per
// level: read; if empty, unlink it from its parent and read again (an
// entry added meanwhile puts the link back); remove the empty object with
// a version assertion; go up. A missing object with a link left over is
// unlinked the same way.
func (b *backend) prune(tree byte, dir string) error {
	io, err := b.borrow()
	if err != nil {
		return err
	}
	defer b.giveBack(io)
	unlinked, failed := false, 0
	for range maxRetries {
		oid := dirObj(tree, dir)
		empty, exists, ver, err := emptyAt(io, oid)
		if err != nil {
			return err
		}
		parent, name := split(dir)
		switch {
		case !empty:
			if unlinked { // something arrived after we unlinked it
				return b.setKey(dirObj(tree, parent), keyDir+name)
			}
			return nil
		case dir != "/" && !unlinked:
			if err := b.rmKey(dirObj(tree, parent), keyDir+name); err != nil {
				return err
			}
			unlinked = true
			continue // read again: the version asserted must postdate the unlink
		case exists:
			w := newWop()
			w.assertVersion(ver)
			w.remove()
			err := w.operate(io, oid)
			w.release()
			if isStale(err) {
				continue // changed since read: look again
			}
			if err != nil {
				// Perhaps removed with its reply lost: reading again
				// tells, as it tells a change.
				if failed++; failed == casTries {
					return err
				}
				continue
			}
		}
		if dir == "/" {
			return nil
		}
		dir, unlinked = parent, false
	}
	return errBusy("pruning " + dir)
}

func sortStrings(s []string) { slices.Sort(s) }
