//go:build cgo

package rados

import (
	"context"
	"time"

	"github.com/berthio/berth/driver"
)

// claimLease is how long a Move's claim on its source counts as live.
const claimLease = 10 * time.Minute

// Move swaps records, never data: the chunks stay where they are and the
// destination's record names them.
//
//  1. Claim: one compare-and-swap sets a claim (token, destination) in the
//     source's record. Of several Moves of one source exactly one claims
//     it; the others find it claimed, or gone, and report ErrNotFound.
//     Readers still see the source, whole.
//  2. Publish: the record, claim cleared, replaces the destination's in
//     one compare-and-swap on the destination's directory: readers see
//     the old destination or the new, never a mix.
//  3. Release: the claimed source entry is removed (compare-and-swap on
//     the claimed value), its directories pruned, and the chunks of the
//     destination's former record deleted.
//
// A crash after 1 leaves a claimed source that reads fine; after 2 the
// file is at both paths, sharing chunks. A claim older than claimLease is
// taken for dead: the next Move of the source settles it first, as Sweep
// does for claims older than its grace period (see settleClaim): finished
// if the destination names the same chunks, else undone. A Move that
// finds itself slower than half the lease between its claim and its
// publish withdraws instead (ErrConflict), so a live Move is never
// settled under it, given clocks within claimLease/2 of each other.
// Until then, a Move of a source whose mover died reports ErrNotFound,
// unless that mover had published the destination: then it settles the
// claim at once (removing the source) and reports ErrNotFound too.
func (b *backend) Move(ctx context.Context, src, dst string) error {
	sdir, sname := split(src)
	soid, skey := dirObj(treeFiles, sdir), keyFile+sname
	var (
		rec       *fileRec
		raw, craw []byte
	)
	for i := 0; ; i++ {
		if i == maxRetries {
			return errBusy("claiming " + src)
		}
		var err error
		if raw, err = b.getEntry(soid, skey); err != nil {
			return err
		}
		if raw == nil {
			return driver.Errorf(driver.ErrNotFound, "no file at %s", src)
		}
		if rec, err = decodeFile(raw); err != nil {
			return err
		}
		if rec.Move != nil {
			if time.Since(time.Unix(0, rec.Move.At)) < claimLease {
				// A claimant whose destination names the source's chunks
				// has published it: only removing the source is left
				// (its call may have failed there), which settling does
				// now, the claimant's own removal then finding it done.
				done, err := b.claimDone(rec)
				if err != nil {
					return err
				}
				if !done {
					return driver.Errorf(driver.ErrNotFound, "%s is being moved to %s by another Move", src, rec.Move.Dst)
				}
			}
			// Published, or the claimant died: settle its claim as Sweep
			// would, look again.
			if err := b.settleClaim(sdir, skey, raw); err != nil {
				return err
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		claimed := *rec
		claimed.Move = &claim{Token: newID(), Dst: dst, At: time.Now().UnixNano()}
		craw = encode(&claimed)
		err = b.casEntry(soid, skey, raw, craw)
		if err == errLost {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	// From here on the Move runs to its end: a claimed source must not be
	// left to Sweep because the caller gave up. Unless it got so slow that
	// another Move may take its claim for dead: then it withdraws.
	claimedAt := time.Now()
	moved := *rec
	moved.Move, moved.Nonce, moved.MTime = nil, newID(), time.Now().UnixNano()
	if time.Since(claimedAt) > claimLease/2 {
		b.casEntry(soid, skey, craw, raw)
		return driver.Errorf(driver.ErrConflict, "moving %s: too slow to publish before its claim could be taken over", src)
	}
	old, err := b.replaceFile(context.Background(), dst, encode(&moved))
	if isUncertain(err) {
		// The destination may name the source's chunks now: undoing the
		// claim could leave one file at both paths, and a Delete of the
		// source would then delete the destination's chunks. Settle the
		// claim by what the destination holds, as Sweep would; failing
		// that, Sweep or the claim's lease will.
		b.settleClaim(sdir, skey, craw)
		return err
	}
	if err != nil {
		if b.casEntry(soid, skey, craw, raw) != nil {
			// Someone replaced or removed the claimed source meanwhile;
			// nothing of ours to undo.
		}
		return err
	}
	ddir, _ := split(dst)
	if err := b.link(treeFiles, ddir); err != nil {
		return err
	}
	if err := b.casEntry(soid, skey, craw, nil); err != nil && err != errLost && !goneAfter(err) {
		return err
	}
	if err := b.prune(treeFiles, sdir); err != nil {
		return err
	}
	b.dropFile(old, moved.Runs)
	return nil
}
