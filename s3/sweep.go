package s3

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berthio/berth/driver"
)

var _ driver.Sweeper = (*backend)(nil)

// Sweep removes what killed processes, or answers lost on the network,
// left behind longer than olderThan ago (by the server's clock): Move
// claims whose mover died, and multipart uploads that no live upload
// record names (created by a process killed before it recorded them, or by
// a retry after a lost answer, F16), at the path or at a staging key, and
// what a process killed in a staged Commit or in the CommitMode probe left
// (stage.go). An upload in progress keeps the
// multipart upload its record names. Sealed slots whose teardown did not
// run go with Delete of their path, as distribution's purger does.
// olderThan must exceed the longest Move: a multipart copy in progress
// has a multipart upload no record names, and a live claim.
func (b *backend) Sweep(ctx context.Context, olderThan time.Duration) error {
	cutoff := time.Now().Add(-olderThan)
	claims := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket: &b.bucket, Prefix: aws.String(b.key(driver.InternalPrefix+"/moves") + "/")})
	var stale []string
	for claims.HasMorePages() {
		page, err := claims.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			if aws.ToTime(o.LastModified).Before(cutoff) {
				stale = append(stale, aws.ToString(o.Key))
			}
		}
	}
	if err := b.deleteKeys(ctx, stale); err != nil {
		return err
	}
	if err := b.sweepStages(ctx, cutoff); err != nil {
		return err
	}
	// MinIO lists uploads for an exact key or for the whole bucket only.
	in := &s3.ListMultipartUploadsInput{Bucket: &b.bucket}
	internal := b.key(driver.InternalPrefix) + "/"
	for {
		out, err := b.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return err
		}
		for _, u := range out.Uploads {
			key, id := aws.ToString(u.Key), aws.ToString(u.UploadId)
			if b.prefix != "" && !strings.HasPrefix(key, b.prefix+"/") || !aws.ToTime(u.Initiated).Before(cutoff) {
				continue
			}
			s, probe := b.slot(b.path(key)), strings.HasPrefix(key, b.probePrefix())
			if strings.HasPrefix(key, internal) {
				p, ok := b.stagePath(key)
				if !ok && !probe {
					continue
				}
				s = b.slot(p)
			}
			if !probe {
				h, err := s.latest(ctx)
				if err != nil {
					return err
				}
				if h.n > 0 && !h.sealed && h.rec.UploadID == id {
					continue // the live upload's own
				}
			}
			b.abort(ctx, key, id)
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// stagePath is the path of the upload whose staging key is key.
func (b *backend) stagePath(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, b.key(driver.InternalPrefix+"/uploads"))
	i := strings.LastIndex(rest, "~u/stage.")
	if !ok || i < 0 || strings.Contains(rest[i+len("~u/stage."):], "/") {
		return "", false
	}
	return rest[:i], true
}

// sweepStages removes staging objects of uploads that are sealed (a Commit
// killed between completing and copying) or gone, and probe objects,
// older than cutoff.
func (b *backend) sweepStages(ctx context.Context, cutoff time.Time) error {
	var stale []string
	for _, prefix := range []string{b.key(driver.InternalPrefix+"/uploads") + "/", b.probePrefix()} {
		pages := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: aws.String(prefix)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, o := range page.Contents {
				key := aws.ToString(o.Key)
				if !aws.ToTime(o.LastModified).Before(cutoff) {
					continue
				}
				if strings.HasPrefix(key, b.probePrefix()) {
					stale = append(stale, key)
					continue
				}
				p, ok := b.stagePath(key)
				if !ok {
					continue
				}
				s := b.slot(p)
				h, err := s.latest(ctx)
				if err != nil {
					return err
				}
				if h.n == 0 || h.sealed || s.stageKey(h.rec.Upload) != key {
					stale = append(stale, key)
				}
			}
		}
	}
	return b.deleteKeys(ctx, stale)
}
