package oss

import (
	"context"
	"strings"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/multipart"
)

// partSizeFor picks the part size of a new upload: the configured one, or
// larger when a size hint says the upload needs it to stay under MaxParts
// (with a tenth spare for reservations of sessions that were fenced). A
// hint past OSS's object limit is ErrTooLarge before anything is sent.
func (b *backend) partSizeFor(ctx context.Context) (int64, error) {
	ps := b.cfg.PartSize
	hint, ok := driver.SizeHint(ctx)
	if !ok {
		return ps, nil
	}
	if hint > MaxObjectSize {
		return 0, driver.Errorf(driver.ErrTooLarge, "declared size %d exceeds OSS's object limit of %d", hint, MaxObjectSize)
	}
	const usable = MaxParts * 9 / 10
	need := (hint + usable - 1) / usable
	if need > MaxPartSize {
		need = (hint + MaxParts - 1) / MaxParts // no spare left: every part number counts
	}
	if need > ps {
		ps = (need + 1<<20 - 1) &^ (1<<20 - 1) // whole MiB
	}
	return min(ps, MaxPartSize), nil
}

// Writer opens a session on the upload at p (multipart.Bucket.Writer).
func (b *backend) Writer(ctx context.Context, p string, append bool) (driver.FileWriter, error) {
	return b.uploads.Writer(ctx, p, append)
}

// complete completes a multipart upload. If the answer is lost (the SDK
// does not retry) or the upload is gone, the object's ETag tells whether
// it was this completion that made it (F5). OSS gives the ETag of
// multipart.CompletedETag in upper case.
func (b *backend) complete(ctx context.Context, key, uploadID string, parts []multipart.Part) error {
	ups := make([]alioss.UploadPart, len(parts))
	for i, p := range parts {
		ups[i] = alioss.UploadPart{PartNumber: int(p.N), ETag: p.ETag}
	}
	_, err := b.bucket.CompleteMultipartUpload(b.imur(key, uploadID), ups, opts(ctx)...)
	if err == nil || !isNotFound(err) && httpStatus(err) != 0 || ctx.Err() != nil {
		return err
	}
	_, etag, _, herr := b.head(ctx, key)
	if herr == nil && normETag(etag) == strings.ToUpper(multipart.CompletedETag(parts)) {
		return nil
	}
	return err
}
