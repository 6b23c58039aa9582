package oss

import (
	"context"
	"sync"
	"time"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/berthio/berth/driver"
)

// moveClaimTTL is how long a claim on a source protects a Move; a claim
// older than that belongs to a process that died mid-Move and is taken
// over.
const moveClaimTTL = 15 * time.Minute

// Move copies src to dst on the server and deletes src. OSS has no rename,
// so two replicas moving one source would both copy and both report
// success (F2): the mover first claims the source by creating
// .berth/moves/<src>~m with x-oss-forbid-overwrite, and the one that does
// not get the claim reports ErrNotFound, as if the other had finished.
// dst is written by one CopyObject (up to CopyThreshold, 1 GiB, OSS's
// CopyObject limit) or one completed multipart copy of UploadPartCopy
// parts, every copy conditional on the source's ETag
// (x-oss-copy-source-if-match): readers never see dst partial, and a
// source replaced meanwhile fails the Move instead of mixing versions.
func (b *backend) Move(ctx context.Context, src, dst string) error {
	size, etag, _, err := b.head(ctx, b.key(src))
	if err != nil {
		return err
	}
	claim := b.key(driver.InternalPrefix + "/moves" + src + "~m")
	body := []byte(randomID() + " " + etag)
	won, _, err := b.putIfAbsent(ctx, claim, body)
	if err != nil {
		return err
	}
	if !won {
		if !b.staleClaim(ctx, claim) {
			return driver.Errorf(driver.ErrNotFound, "being moved by another instance")
		}
		if won, _, err = b.putIfAbsent(ctx, claim, body); err != nil {
			return err
		} else if !won {
			return driver.Errorf(driver.ErrNotFound, "being moved by another instance")
		}
	}
	defer b.deleteKeys(context.WithoutCancel(ctx), []string{claim})

	// The copy holds to the ETag the HEAD saw: a mover that finished
	// between our HEAD and our claim deleted the source, and the copy then
	// fails as not found instead of copying something else.
	if size > b.cfg.CopyThreshold {
		err = b.copyMultipart(ctx, b.key(src), b.key(dst), etag, size)
	} else {
		_, err = b.bucket.CopyObject(b.key(src), b.key(dst), b.writeOpts(ctx, alioss.CopySourceIfMatch(etag))...)
	}
	if err != nil {
		if isNotFound(err) || isPreconditionFailed(err) {
			return driver.Errorf(driver.ErrNotFound, "source changed or vanished during the move")
		}
		return err
	}
	return b.bucket.DeleteObject(b.key(src), opts(ctx)...)
}

// staleClaim removes and reports a claim older than moveClaimTTL.
func (b *backend) staleClaim(ctx context.Context, claim string) bool {
	_, _, mod, err := b.head(ctx, claim)
	if err != nil || time.Since(mod) < moveClaimTTL {
		return false
	}
	return b.deleteKeys(ctx, []string{claim}) == nil
}

// copyMultipart copies src to dst with UploadPartCopy, CopyConcurrency
// parts of CopyPartSize at a time, all but the last of equal size (F14).
// A failure aborts the multipart upload it started (F16).
func (b *backend) copyMultipart(ctx context.Context, src, dst, etag string, size int64) error {
	ps := max(b.cfg.CopyPartSize, (size+MaxParts-1)/MaxParts)
	imur, err := b.bucket.InitiateMultipartUpload(dst, b.writeOpts(ctx)...)
	if err != nil {
		return err
	}
	n := int((size + ps - 1) / ps)
	parts := make([]part, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, b.cfg.CopyConcurrency)
	)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			lo := int64(i) * ps
			hi := min(lo+ps, size)
			up, err := b.bucket.UploadPartCopy(imur, b.cfg.Bucket, src, lo, hi-lo, i+1,
				opts(ctx, alioss.CopySourceIfMatch(etag))...)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
					cancel()
				}
				return
			}
			parts[i] = part{N: i + 1, ETag: up.ETag, Size: hi - lo}
		}()
	}
	wg.Wait()
	if first == nil {
		first = b.complete(ctx, dst, imur.UploadID, parts)
	}
	if first != nil {
		b.abort(context.WithoutCancel(ctx), dst, imur.UploadID)
	}
	return first
}
