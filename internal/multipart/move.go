package multipart

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/berthio/berth/driver"
)

// moveClaimTTL is how long a claim on a source protects a Move; a claim
// older than that belongs to a process that died mid-Move and is taken
// over.
const moveClaimTTL = 15 * time.Minute

// CopyFunc copies the object at key src, as Stat described it, to key
// dst on the server, conditional on src's ETag, so that dst appears whole
// or not at all.
type CopyFunc func(ctx context.Context, src, dst string, o Object) error

// Move copies src to dst on the server with copyFn, then deletes src. An
// object store has no rename, so two replicas moving one source would
// both copy and both report success (F2): the mover first claims the
// source with a conditional create of .berth/moves/<src>~m, and the one
// that does not get the claim reports ErrNotFound, as if the other had
// finished. A source that changed or vanished under the copy (not found,
// or its ETag condition failed) is ErrNotFound too.
func (u *Bucket) Move(ctx context.Context, src, dst string, copyFn CopyFunc) error {
	o, err := u.Store.Stat(ctx, u.key(src))
	if err != nil {
		return err
	}
	claim := u.internal("/moves" + src + "~m")
	body := []byte(RandomID() + " " + o.ETag)
	won, _, err := u.PutIfAbsent(ctx, claim, body)
	if err != nil {
		return err
	}
	if !won {
		if !u.staleClaim(ctx, claim) {
			return driver.Errorf(driver.ErrNotFound, "being moved by another instance")
		}
		if won, _, err = u.PutIfAbsent(ctx, claim, body); err != nil {
			return err
		} else if !won {
			return driver.Errorf(driver.ErrNotFound, "being moved by another instance")
		}
	}
	defer u.Store.DeleteKeys(context.WithoutCancel(ctx), []string{claim})

	// The copy holds to the ETag the HEAD saw: a mover that finished
	// between our HEAD and our claim deleted the source, and the copy then
	// fails as not found instead of copying something else.
	if err := copyFn(ctx, u.key(src), u.key(dst), o); err != nil {
		if u.Store.IsNotFound(err) || u.Store.IsPreconditionFailed(err) {
			return driver.Errorf(driver.ErrNotFound, "source changed or vanished during the move")
		}
		return err
	}
	return u.Store.Delete(ctx, u.key(src))
}

// staleClaim removes and reports a claim older than moveClaimTTL.
func (u *Bucket) staleClaim(ctx context.Context, claim string) bool {
	o, err := u.Store.Stat(ctx, claim)
	if err != nil || time.Since(o.Modified) < moveClaimTTL {
		return false
	}
	return u.Store.DeleteKeys(ctx, []string{claim}) == nil
}

// Ranges splits size bytes into copy ranges (first and last byte,
// inclusive) of partSize, or larger when MaxParts of partSize do not hold
// size; all but the last are of equal size (F14).
func (u *Bucket) Ranges(size, partSize int64) [][2]int64 {
	ps := max(partSize, (size+int64(u.MaxParts)-1)/int64(u.MaxParts))
	var ranges [][2]int64
	for lo := int64(0); lo < size; lo += ps {
		ranges = append(ranges, [2]int64{lo, min(lo+ps, size) - 1})
	}
	return ranges
}

// CopyPartFunc copies byte range r (first and last byte, inclusive) of
// the source as part n of multipart upload id, and returns its ETag.
type CopyPartFunc func(ctx context.Context, id string, n int32, r [2]int64) (string, error)

// CopyRanges makes dst of ranges, in order, one part each copied by
// copyPart, concurrency at a time, and completes it: dst appears whole or
// not at all. All ranges but the last must hold at least the server's
// smallest part. A failure aborts the multipart upload it started (F16).
func (u *Bucket) CopyRanges(ctx context.Context, dst string, ranges [][2]int64, concurrency int, copyPart CopyPartFunc) error {
	id, err := u.Store.CreateMultipart(ctx, dst)
	if err != nil {
		return err
	}
	parts := make([]Part, len(ranges))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, concurrency)
	)
	for i, r := range ranges {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			etag, err := copyPart(ctx, id, int32(i+1), r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
					cancel()
				}
				return
			}
			parts[i] = Part{N: int32(i + 1), ETag: etag, Size: r[1] - r[0] + 1}
		}()
	}
	wg.Wait()
	if first == nil {
		first = u.Store.Complete(ctx, dst, id, slices.Clip(parts))
	}
	if first != nil {
		u.Store.Abort(context.WithoutCancel(ctx), dst, id)
	}
	return first
}
