//go:build cgo

package rados

import (
	"bytes"
	"context"
	"time"

	"github.com/berthio/berth/driver"
)

// An upload's state is one entry, "u:<name>" in the upload tree's
// directory object U<dir>, holding an uploadRec: the durable size, the
// runs of chunks that hold those bytes, and the owner, the session that
// may publish the next state. Every change is a compare-and-swap of the
// whole value (omap_cmp + omap_set in one op), so:
//
//   - Writer publishes itself as the owner, fencing the previous session:
//     that session's next publish compares against a value that is gone
//     and fails (ErrConflict), whatever it wrote meanwhile;
//   - Close publishes Size and Runs after the chunks are written: any
//     instance's Writer(append) reads them and continues;
//   - Commit seals the entry (one more compare-and-swap), then publishes
//     the file record, then removes the sealed entry;
//   - Cancel and Delete remove the entry by compare-and-swap, then the
//     chunks it names.
//
// A session writes only chunk objects named after itself (C.<session>.<i>),
// so a fenced session still writing can overwrite nobody's bytes.

func uploadEntry(p string) (oid, key, dir, name string) {
	dir, name = split(p)
	return dirObj(treeUploads, dir), keyUpload + name, dir, name
}

// removeUpload removes the upload entry dir/name if it holds expect (nil:
// whatever it holds), then the chunks it names unless it is sealed (a
// Commit is turning them into a file). It reports whether it removed an
// entry; with expect set, a different value is errLost.
func (b *backend) removeUpload(dir, name string, expect []byte) (bool, error) {
	oid, key := dirObj(treeUploads, dir), keyUpload+name
	for range maxRetries {
		raw, err := b.getEntry(oid, key)
		if err != nil {
			return false, err
		}
		if raw == nil && expect == nil {
			return false, nil
		}
		if expect != nil && !bytes.Equal(raw, expect) {
			return false, errLost
		}
		err = b.casEntry(oid, key, raw, nil)
		if err == errLost {
			continue
		}
		if goneAfter(err) {
			// Removed, by this call or by another (a Commit, whose file
			// then names the chunks): leave them to Sweep.
			return true, b.prune(treeUploads, dir)
		}
		if err != nil {
			return false, err
		}
		if rec, err := decodeUpload(raw); err == nil && !rec.Sealed {
			b.deleteChunks(chunks(rec.Runs)) // named by no record now: what fails is Sweep's
		}
		return true, b.prune(treeUploads, dir)
	}
	return false, errBusy("removing the upload at " + child(dir, name))
}

// chunkSizeFor picks a new upload's chunk size and refuses one declared
// larger than MaxObjectSize.
func (b *backend) chunkSizeFor(ctx context.Context) (int64, error) {
	if hint, ok := driver.SizeHint(ctx); ok && hint > MaxObjectSize {
		return 0, driver.Errorf(driver.ErrTooLarge, "declared size %d exceeds the driver's limit of %d", hint, MaxObjectSize)
	}
	return b.cfg.ChunkSize, nil
}

// Writer opens a session on the upload at p. A new upload replaces one
// in progress there (whose chunks it deletes); append continues the one
// in progress after its last durable byte, reading back at most one
// partial chunk.
func (b *backend) Writer(ctx context.Context, p string, append bool) (driver.FileWriter, error) {
	oid, key, dir, _ := uploadEntry(p)
	w := &writer{b: b, ctx: ctx, p: p, oid: oid, key: key, session: newID()}
	for range maxRetries {
		raw, err := b.getEntry(oid, key)
		if err != nil {
			return nil, err
		}
		var old *uploadRec
		if raw != nil {
			if old, err = decodeUpload(raw); err != nil {
				return nil, err
			}
		}
		var rec uploadRec
		switch {
		case append && (old == nil || old.Sealed):
			return nil, driver.Errorf(driver.ErrNotFound, "no upload in progress at %s", p)
		case append:
			rec = *old
		default:
			cs, err := b.chunkSizeFor(ctx)
			if err != nil {
				return nil, err
			}
			rec = uploadRec{ID: newID(), ChunkSize: cs}
		}
		rec.Owner, rec.Nonce, rec.MTime = w.session, newID(), time.Now().UnixNano()
		val := encode(&rec)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err = b.casEntry(oid, key, raw, val)
		if err == errLost {
			continue
		}
		if err != nil {
			return nil, err
		}
		w.raw = val
		if !append {
			if err := b.link(treeUploads, dir); err != nil {
				return nil, err
			}
			if old != nil && !old.Sealed {
				b.deleteChunks(chunks(old.Runs)) // the discarded upload's bytes
			}
		}
		if err := w.start(&rec); err != nil {
			return nil, err
		}
		return w, nil
	}
	return nil, errBusy("opening the upload at " + p)
}
