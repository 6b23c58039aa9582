//go:build cgo

package rados

import (
	"context"
	"strings"
	"time"

	"github.com/berthio/berth/driver"
)

var _ driver.Sweeper = (*backend)(nil)

// Sweep reclaims what killed processes left in the namespace. It never
// touches an upload in progress or anything younger than olderThan, so it
// may run while replicas work, given a grace period longer than any one
// call (an hour is ample). It lists every object of the namespace once,
// then:
//
//  1. reads every directory object: Move claims older than the grace
//     period are finished (the destination already names the same chunks:
//     the source entry goes) or undone (the claim is cleared); sealed
//     uploads older than it, whose Commit died, are removed;
//  2. repairs the trees: a directory that holds entries is linked from
//     its parent (a creator died between its entry and the links); links
//     to empty or missing directories are removed, and empty directory
//     objects with them (prune's guarded steps);
//  3. deletes the chunk objects that no file record, no upload record and
//     no upload's owning session names, if they are older than the grace
//     period: chunks of PutContent calls and sessions that died before
//     publishing, and of records replaced by processes that died before
//     deleting them.
func (b *backend) Sweep(ctx context.Context, olderThan time.Duration) error {
	cutoff := time.Now().Add(-olderThan).UnixNano()
	var dirs, chunkObjs []string
	err := b.io.ListObjects(func(oid string) {
		switch {
		case strings.HasPrefix(oid, chunkPrefix):
			chunkObjs = append(chunkObjs, oid)
		case len(oid) > 1 && (oid[0] == treeFiles || oid[0] == treeUploads) && oid[1] == '/':
			dirs = append(dirs, oid)
		}
	})
	if err != nil {
		return err
	}
	sortStrings(dirs)
	if err := b.sweepEntries(ctx, dirs, cutoff); err != nil {
		return err
	}
	live := map[string]bool{}   // chunk objects named by a record
	owners := map[string]bool{} // sessions owning an upload: their chunks are live
	exists := map[string]bool{}
	for _, oid := range dirs {
		exists[oid] = true
	}
	var dangling []string // links to directory objects that do not exist
	for _, oid := range dirs {
		tree, dir := oid[0], oid[1:]
		err := b.entries(ctx, b.io, oid, func(key string, val []byte) error {
			switch {
			case strings.HasPrefix(key, keyFile):
				if rec, err := decodeFile(val); err == nil {
					for _, c := range chunks(rec.Runs) {
						live[c] = true
					}
				}
			case strings.HasPrefix(key, keyUpload):
				if rec, err := decodeUpload(val); err == nil {
					owners[rec.Owner] = true
					for _, c := range chunks(rec.Runs) {
						live[c] = true
					}
				}
			case strings.HasPrefix(key, keyDir):
				if sub := dirObj(tree, child(dir, key[len(keyDir):])); !exists[sub] {
					dangling = append(dangling, sub)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Repair: link what holds entries; prune what does not.
		if err := b.repairDir(tree, dir); err != nil {
			return err
		}
	}
	for _, oid := range dangling {
		if err := b.prune(oid[0], oid[1:]); err != nil {
			return err
		}
	}
	var dead []string
	for _, oid := range chunkObjs {
		gen, _, ok := parseChunkObj(oid)
		if !ok || live[oid] || owners[gen] {
			continue
		}
		st, err := b.io.Stat(oid)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return err
		}
		if st.ModTime.UnixNano() <= cutoff {
			dead = append(dead, oid)
		}
	}
	return b.deleteChunks(dead)
}

// sweepEntries finishes or undoes old Move claims and removes old sealed
// uploads.
func (b *backend) sweepEntries(ctx context.Context, dirs []string, cutoff int64) error {
	for _, oid := range dirs {
		tree, dir := oid[0], oid[1:]
		type fix struct {
			key string
			raw []byte
		}
		var claims, sealed []fix
		err := b.entries(ctx, b.io, oid, func(key string, val []byte) error {
			switch {
			case tree == treeFiles && strings.HasPrefix(key, keyFile):
				if rec, err := decodeFile(val); err == nil && rec.Move != nil && rec.Move.At <= cutoff {
					claims = append(claims, fix{key, val})
				}
			case tree == treeUploads && strings.HasPrefix(key, keyUpload):
				if rec, err := decodeUpload(val); err == nil && rec.Sealed && rec.MTime <= cutoff {
					sealed = append(sealed, fix{key, val})
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, c := range claims {
			if err := b.settleClaim(dir, c.key, c.raw); err != nil {
				return err
			}
		}
		for _, s := range sealed {
			if _, err := b.removeUpload(dir, strings.TrimPrefix(s.key, keyUpload), s.raw); err != nil && err != errLost {
				return err
			}
		}
	}
	return nil
}

// settleClaim ends a Move that died after claiming its source: if the
// destination names the same chunks (the Move published it), the source
// entry goes; otherwise the claim is cleared, unless the chunks are gone
// (the destination was published and then replaced), when the source
// goes too.
func (b *backend) settleClaim(dir, key string, raw []byte) error {
	rec, err := decodeFile(raw)
	if err != nil || rec.Move == nil {
		return nil
	}
	done, err := b.claimDone(rec)
	if err != nil {
		return err
	}
	oid := dirObj(treeFiles, dir)
	if done {
		if err := b.casEntry(oid, key, raw, nil); err != nil && err != errLost && !goneAfter(err) {
			return err
		}
		return b.prune(treeFiles, dir)
	}
	undone := *rec
	undone.Move = nil
	if err := b.casEntry(oid, key, raw, encode(&undone)); err != nil && err != errLost {
		return err
	}
	return nil
}

// claimDone reports whether the Move that claimed rec published it: its
// destination names the same chunks (or holds the same inline content),
// or the chunks are gone (published, then replaced).
func (b *backend) claimDone(rec *fileRec) (bool, error) {
	dst, _, err := b.file(rec.Move.Dst)
	if err != nil {
		return false, err
	}
	if dst != nil && (sameRuns(dst.Runs, rec.Runs) || (rec.Runs == nil && dst.Size == rec.Size && string(dst.Inline) == string(rec.Inline))) {
		return true, nil
	}
	if len(rec.Runs) > 0 {
		if _, err := b.io.Stat(chunks(rec.Runs)[0]); isNotFound(err) {
			return true, nil
		}
	}
	return false, nil
}

// repairDir links a directory that holds entries, or prunes one that
// holds none.
func (b *backend) repairDir(tree byte, dir string) error {
	m, err := b.io.GetOmapValues(dirObj(tree, dir), "", "", 1)
	if err != nil && !isNotFound(err) {
		return err
	}
	if len(m) > 0 {
		return b.link(tree, dir)
	}
	return b.prune(tree, dir)
}
