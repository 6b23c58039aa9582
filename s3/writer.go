package s3

import (
	"bytes"
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/multipart"
)

// partSizeFor picks the part size of a new upload: the configured one, or
// larger when a size hint says the upload needs it to stay under MaxParts
// (with a tenth spare for reservations of sessions that were fenced).
func (b *backend) partSizeFor(ctx context.Context) (int64, error) {
	ps := b.cfg.PartSize
	hint, ok := driver.SizeHint(ctx)
	if !ok {
		return ps, nil
	}
	if hint > MaxObjectSize {
		return 0, driver.Errorf(driver.ErrTooLarge, "declared size %d exceeds S3's object limit of %d", hint, int64(MaxObjectSize))
	}
	const usable = MaxParts * 9 / 10
	if need := (hint + usable - 1) / usable; need > ps {
		ps = (need + 1<<20 - 1) &^ (1<<20 - 1) // whole MiB
	}
	return min(ps, MaxPartSize), nil
}

// Writer opens a session on the upload at p (multipart.Bucket.Writer):
// part buffers are recycled between sessions through b.parts.
func (b *backend) Writer(ctx context.Context, p string, append bool) (driver.FileWriter, error) {
	return b.uploads.Writer(ctx, p, append)
}

func (b *backend) uploadPart(ctx context.Context, key, id string, n int32, data []byte) (string, error) {
	out, err := b.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &b.bucket, Key: aws.String(key), UploadId: aws.String(id),
		PartNumber: aws.Int32(n), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// complete completes a multipart upload. If the answer is lost and the
// SDK's retry finds the upload gone (F5), the object's ETag tells whether
// it was this completion that made it.
func (b *backend) complete(ctx context.Context, key, uploadID string, parts []multipart.Part) error {
	cps := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		cps[i] = types.CompletedPart{PartNumber: aws.Int32(p.N), ETag: aws.String(p.ETag)}
	}
	_, err := b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &b.bucket, Key: aws.String(key), UploadId: aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cps},
	})
	if err == nil || !isNotFound(err) {
		return err
	}
	out, herr := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: aws.String(key)})
	if herr == nil && strings.Trim(aws.ToString(out.ETag), `"`) == multipart.CompletedETag(parts) {
		return nil
	}
	return err
}

func (b *backend) abort(ctx context.Context, key, uploadID string) {
	b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: &b.bucket, Key: aws.String(key), UploadId: aws.String(uploadID)})
}
