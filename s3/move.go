package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berthio/berth/internal/multipart"
)

// Move copies src to dst on the server and deletes src, with the claim of
// multipart.Bucket.Move against two replicas moving one source (F2). dst
// is written by one CopyObject or one completed multipart copy, so readers
// never see it partial (CONTRACT 7), above 5 GiB too (F13).
func (b *backend) Move(ctx context.Context, src, dst string) error {
	return b.uploads.Move(ctx, src, dst, func(ctx context.Context, src, dst string, o multipart.Object) error {
		if o.Size > b.cfg.CopyThreshold {
			return b.copyMultipart(ctx, src, dst, o.ETag, o.Size)
		}
		return b.copyObject(ctx, src, dst, o.ETag)
	})
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
	return b.copyRanges(ctx, src, dst, etag, b.uploads.Ranges(size, b.cfg.CopyPartSize))
}

// copyRanges makes dst of the byte ranges of src (first and last byte,
// inclusive), in order, one UploadPartCopy part each, CopyConcurrency at a
// time, each conditional on src's ETag (multipart.Bucket.CopyRanges): dst
// appears whole or not at all, and a failure aborts the copy's upload
// (F16). All ranges but the last must hold at least MinPartSize bytes.
func (b *backend) copyRanges(ctx context.Context, src, dst, etag string, ranges [][2]int64) error {
	return b.uploads.CopyRanges(ctx, dst, ranges, b.cfg.CopyConcurrency, func(ctx context.Context, id string, n int32, r [2]int64) (string, error) {
		res, err := b.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: &b.bucket, Key: aws.String(dst), UploadId: aws.String(id), PartNumber: aws.Int32(n),
			CopySource: aws.String(b.bucket + "/" + src), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", r[0], r[1])),
			CopySourceIfMatch: aws.String(etag),
		})
		if err != nil {
			return "", err
		}
		return aws.ToString(res.CopyPartResult.ETag), nil
	})
}
