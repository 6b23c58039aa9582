package oss

import (
	"context"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/berthio/berth/internal/multipart"
)

// Move copies src to dst on the server and deletes src, with the claim of
// multipart.Bucket.Move against two replicas moving one source (F2). dst
// is written by one CopyObject (up to CopyThreshold, 1 GiB, OSS's
// CopyObject limit) or one completed multipart copy of UploadPartCopy
// parts, every copy conditional on the source's ETag
// (x-oss-copy-source-if-match): readers never see dst partial, and a
// source replaced meanwhile fails the Move instead of mixing versions.
func (b *backend) Move(ctx context.Context, src, dst string) error {
	return b.uploads.Move(ctx, src, dst, func(ctx context.Context, src, dst string, o multipart.Object) error {
		if o.Size > b.cfg.CopyThreshold {
			return b.copyMultipart(ctx, src, dst, o.ETag, o.Size)
		}
		_, err := b.bucket.CopyObject(src, dst, b.writeOpts(ctx, alioss.CopySourceIfMatch(o.ETag))...)
		return err
	})
}

// copyMultipart copies src to dst with UploadPartCopy, CopyConcurrency
// parts of CopyPartSize at a time, all but the last of equal size (F14).
// A failure aborts the multipart upload it started (F16).
func (b *backend) copyMultipart(ctx context.Context, src, dst, etag string, size int64) error {
	ranges := b.uploads.Ranges(size, b.cfg.CopyPartSize)
	return b.uploads.CopyRanges(ctx, dst, ranges, b.cfg.CopyConcurrency, func(ctx context.Context, id string, n int32, r [2]int64) (string, error) {
		up, err := b.bucket.UploadPartCopy(b.imur(dst, id), b.cfg.Bucket, src, r[0], r[1]-r[0]+1, int(n),
			opts(ctx, alioss.CopySourceIfMatch(etag))...)
		return up.ETag, err
	})
}
