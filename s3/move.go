package s3

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berthio/berth/driver"
)

// moveClaimTTL is how long a claim on a source protects a Move; a claim
// older than that belongs to a process that died mid-Move and is taken
// over.
const moveClaimTTL = 15 * time.Minute

// Move copies src to dst on the server and deletes src. S3 has no rename,
// so two replicas moving one source would both copy and both report
// success (F2): the mover first claims the source with a conditional PUT
// of .berth/moves/<src>~m, and the one that does not get the claim reports
// ErrNotFound, as if the other had finished. dst is written by one
// CopyObject or one completed multipart copy, so readers never see it
// partial (CONTRACT 7), above 5 GiB too (F13).
func (b *backend) Move(ctx context.Context, src, dst string) error {
	head, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: aws.String(b.key(src))})
	if err != nil {
		return err
	}
	claim := b.key(driver.InternalPrefix + "/moves" + src + "~m")
	body := []byte(randomID() + " " + aws.ToString(head.ETag))
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

	size, etag := aws.ToInt64(head.ContentLength), aws.ToString(head.ETag)
	if size > b.cfg.CopyThreshold {
		err = b.copyMultipart(ctx, b.key(src), b.key(dst), etag, size)
	} else {
		err = b.copyObject(ctx, b.key(src), b.key(dst), etag)
	}
	if err != nil {
		if isNotFound(err) || isPreconditionFailed(err) {
			return driver.Errorf(driver.ErrNotFound, "source changed or vanished during the move")
		}
		return err
	}
	_, err = b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: aws.String(b.key(src))})
	return err
}

// staleClaim removes and reports a claim older than moveClaimTTL.
func (b *backend) staleClaim(ctx context.Context, claim string) bool {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: aws.String(claim)})
	if err != nil || time.Since(aws.ToTime(out.LastModified)) < moveClaimTTL {
		return false
	}
	return b.deleteKeys(ctx, []string{claim}) == nil
}

// copyObject copies src to dst with one CopyObject, if src's ETag is
// still etag (where the server honours the condition).
func (b *backend) copyObject(ctx context.Context, src, dst, etag string) error {
	in := &s3.CopyObjectInput{
		Bucket: &b.bucket, Key: aws.String(dst),
		CopySource: aws.String(b.bucket + "/" + src), CopySourceIfMatch: aws.String(etag),
	}
	in.ServerSideEncryption, in.SSEKMSKeyId = b.sse()
	in.StorageClass, in.ACL = b.storageClass(), b.acl()
	_, err := b.client.CopyObject(ctx, in)
	return err
}

// copyMultipart copies src to dst with UploadPartCopy, CopyConcurrency
// parts of CopyPartSize at a time, all but the last of equal size (F14).
func (b *backend) copyMultipart(ctx context.Context, src, dst, etag string, size int64) error {
	ps := max(b.cfg.CopyPartSize, (size+MaxParts-1)/MaxParts)
	var ranges [][2]int64
	for lo := int64(0); lo < size; lo += ps {
		ranges = append(ranges, [2]int64{lo, min(lo+ps, size) - 1})
	}
	return b.copyRanges(ctx, src, dst, etag, ranges)
}

// copyRanges makes dst of the byte ranges of src (first and last byte,
// inclusive), in order, one UploadPartCopy part each, CopyConcurrency at a
// time, and completes it: dst appears whole or not at all. All ranges but
// the last must hold at least MinPartSize bytes. A failure aborts the
// multipart upload it started (F16).
func (b *backend) copyRanges(ctx context.Context, src, dst, etag string, ranges [][2]int64) error {
	in := &s3.CreateMultipartUploadInput{Bucket: &b.bucket, Key: aws.String(dst)}
	in.ServerSideEncryption, in.SSEKMSKeyId = b.sse()
	in.StorageClass, in.ACL = b.storageClass(), b.acl()
	out, err := b.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return err
	}
	id := aws.ToString(out.UploadId)
	parts := make([]part, len(ranges))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, b.cfg.CopyConcurrency)
	)
	for i, r := range ranges {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			res, err := b.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
				Bucket: &b.bucket, Key: aws.String(dst), UploadId: aws.String(id), PartNumber: aws.Int32(int32(i + 1)),
				CopySource: aws.String(b.bucket + "/" + src), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", r[0], r[1])),
				CopySourceIfMatch: aws.String(etag),
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
					cancel()
				}
				return
			}
			parts[i] = part{N: int32(i + 1), ETag: aws.ToString(res.CopyPartResult.ETag), Size: r[1] - r[0] + 1}
		}()
	}
	wg.Wait()
	if first == nil {
		first = b.complete(ctx, dst, id, slices.Clip(parts))
	}
	if first != nil {
		b.abort(context.WithoutCancel(ctx), dst, id)
	}
	return first
}
