package s3

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/multipart"
)

// Staged commits. A writer session killed (or fenced) while parts are in
// flight leaves parts in the pinned multipart upload that no record names
// ("strays"). MinIO and AWS complete an upload with the recorded parts and
// drop the rest; Ceph RGW 16.2 refuses a completion that leaves any
// uploaded part out (400 InvalidPart), and S3 has no call to delete one
// part. On such a server the multipart upload is created at a staging key
// of the slot, stage.<upload>, named in the records, and Commit
//
//  1. completes it there with every part the server holds (recorded and
//     stray, in part-number order; a short stray that is not the last part
//     is first overwritten with MinPartSize bytes, since only the last part
//     may be short),
//  2. builds the object at the path by a server-side copy of exactly the
//     recorded parts' bytes: one CopyObject (or the multipart copy above
//     CopyThreshold) when there are no strays, else one UploadPartCopy per
//     recorded part, from its offset in the staged object,
//  3. deletes the staging object, then tears the slot down as ever.
//
// The path is only ever written by a complete server-side copy, so it is
// never partial. A Commit killed between 1 and 3 leaves the staging object
// in the sealed slot, where Delete (teardown) and Sweep find it.

// probePrefix is where the probe of a server's completion rule runs.
func (b *backend) probePrefix() string { return b.key(driver.InternalPrefix+"/probe") + "/" }

// stagedMode tells whether this instance creates new multipart uploads
// staged: CommitMode, or with "auto" the probe's answer, asked once per
// instance at its first multipart upload (read-only users never pay for
// it). A failed probe is not remembered: the next upload asks again.
func (b *backend) stagedMode(ctx context.Context) (bool, error) {
	switch b.cfg.CommitMode {
	case CommitDirect:
		return false, nil
	case CommitStaged:
		return true, nil
	}
	b.mode.Lock()
	defer b.mode.Unlock()
	if !b.mode.known {
		staged, err := b.probeCommit(ctx)
		if err != nil {
			return false, fmt.Errorf("probe whether the server completes a multipart upload with some of its parts: %w", err)
		}
		b.mode.known, b.mode.staged = true, staged
	}
	return b.mode.staged, nil
}

// mayStage reports whether this instance may have created staged uploads:
// false only when it is known not to.
func (b *backend) mayStage() bool {
	switch b.cfg.CommitMode {
	case CommitDirect:
		return false
	case CommitStaged:
		return true
	}
	b.mode.Lock()
	defer b.mode.Unlock()
	return !b.mode.known || b.mode.staged
}

// probeCommit uploads parts 1 and 2 (one byte each) of a probe upload and
// completes it with part 2 alone: success means the server drops unlisted
// parts (direct commits), InvalidPart that it refuses (staged commits).
// The probe removes what it made; one killed midway is left to Sweep.
func (b *backend) probeCommit(ctx context.Context) (bool, error) {
	key := b.probePrefix() + "commit." + multipart.RandomID()
	in := &s3.CreateMultipartUploadInput{Bucket: &b.bucket, Key: aws.String(key)}
	in.ServerSideEncryption, in.SSEKMSKeyId = b.sse()
	in.StorageClass, in.ACL = b.storageClass(), b.acl()
	out, err := b.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return false, err
	}
	id := aws.ToString(out.UploadId)
	cleanup := context.WithoutCancel(ctx)
	var etag string
	for n := int32(1); n <= 2; n++ {
		res, err := b.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &b.bucket, Key: aws.String(key), UploadId: aws.String(id), PartNumber: aws.Int32(n),
			Body: bytes.NewReader([]byte{byte('0' + n)}), ContentLength: aws.Int64(1),
		})
		if err != nil {
			b.abort(cleanup, key, id)
			return false, err
		}
		etag = aws.ToString(res.ETag)
	}
	_, err = b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &b.bucket, Key: aws.String(key), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(2), ETag: aws.String(etag)}}},
	})
	switch {
	case err == nil:
		return false, b.deleteKeys(cleanup, []string{key})
	case errorCode(err) == "InvalidPart":
		b.abort(cleanup, key, id)
		return true, nil
	default:
		b.abort(cleanup, key, id)
		return false, err
	}
}

// serverParts lists every part the server holds for rec's upload.
func (b *backend) serverParts(ctx context.Context, key, uploadID string) ([]multipart.Part, error) {
	var out []multipart.Part
	pages := s3.NewListPartsPaginator(b.client, &s3.ListPartsInput{Bucket: &b.bucket, Key: aws.String(key), UploadId: aws.String(uploadID)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range page.Parts {
			out = append(out, multipart.Part{N: aws.ToInt32(p.PartNumber), ETag: aws.ToString(p.ETag), Size: aws.ToInt64(p.Size)})
		}
	}
	slices.SortFunc(out, func(a, b multipart.Part) int { return int(a.N - b.N) })
	return slices.CompactFunc(out, func(a, b multipart.Part) bool { return a.N == b.N }), nil
}

func sameETag(a, b string) bool { return strings.Trim(a, `"`) == strings.Trim(b, `"`) }

// stagedParts is the completion list of a staged upload: every part the
// server holds, each recorded one checked against its record, short
// strays that are not last overwritten with MinPartSize bytes.
func (b *backend) stagedParts(ctx context.Context, rec *multipart.Record, recorded []multipart.Part) ([]multipart.Part, error) {
	all, err := b.serverParts(ctx, rec.Stage, rec.UploadID)
	if err != nil {
		return nil, err
	}
	mine := make(map[int32]multipart.Part, len(recorded))
	for _, p := range recorded {
		mine[p.N] = p
	}
	found := 0
	for i, p := range all {
		r, ok := mine[p.N]
		if ok {
			if !sameETag(r.ETag, p.ETag) || r.Size != p.Size {
				return nil, fmt.Errorf("part %d of the staged upload is not the recorded one (etag %s, %d bytes; recorded %s, %d bytes)", p.N, p.ETag, p.Size, r.ETag, r.Size)
			}
			found++
			all[i] = r
		}
		if i == len(all)-1 || p.Size >= MinPartSize {
			continue
		}
		if ok {
			return nil, fmt.Errorf("recorded part %d (%d bytes) is short and not the last part", p.N, p.Size)
		}
		// A stray short part, left by a session killed in its Commit
		// after it sent its last part: only the last part may be short.
		res, err := b.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &b.bucket, Key: aws.String(rec.Stage), UploadId: aws.String(rec.UploadID),
			PartNumber: aws.Int32(p.N), Body: bytes.NewReader(make([]byte, MinPartSize)), ContentLength: aws.Int64(MinPartSize),
		})
		if err != nil {
			return nil, fmt.Errorf("pad stray part %d: %w", p.N, err)
		}
		all[i] = multipart.Part{N: p.N, ETag: aws.ToString(res.ETag), Size: MinPartSize}
	}
	if found != len(recorded) {
		return nil, fmt.Errorf("the staged upload lacks %d of its %d recorded parts", len(recorded)-found, len(recorded))
	}
	return all, nil
}

// commitStaged completes rec's staged upload with every part the server
// holds, then copies the bytes of the recorded parts (sorted by number,
// the last one holding the tail) to the path. The staging object is left
// for teardown.
func (b *backend) commitStaged(ctx context.Context, s *multipart.Slot, rec *multipart.Record, recorded []multipart.Part) error {
	var all []multipart.Part
	for attempt := 1; ; attempt++ {
		var err error
		if all, err = b.stagedParts(ctx, rec, recorded); err != nil {
			return err
		}
		err = b.complete(ctx, rec.Stage, rec.UploadID, all)
		if err == nil {
			break
		}
		// A fenced session may still send a part of its window after the
		// listing: RGW then refuses the list as incomplete. List again.
		if errorCode(err) != "InvalidPart" || attempt == 3 {
			return fmt.Errorf("complete the staged upload: %w", err)
		}
	}
	head, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: aws.String(rec.Stage)})
	if err != nil {
		return fmt.Errorf("the staged object: %w", err)
	}
	var total, size int64
	var ranges [][2]int64
	mine := make(map[int32]bool, len(recorded))
	for _, p := range recorded {
		mine[p.N] = true
	}
	for _, p := range all {
		if mine[p.N] && p.Size > 0 {
			ranges = append(ranges, [2]int64{total, total + p.Size - 1})
			size += p.Size
		}
		total += p.Size
	}
	if got := aws.ToInt64(head.ContentLength); got != total {
		return fmt.Errorf("the staged object holds %d bytes, its parts %d", got, total)
	}
	etag := aws.ToString(head.ETag)
	switch {
	case size == 0: // nothing recorded but an empty last part
		_, err = b.client.PutObject(ctx, b.putInput(s.Key, nil))
	case len(all) != len(recorded):
		err = b.copyRanges(ctx, rec.Stage, s.Key, etag, ranges)
	case size > b.cfg.CopyThreshold:
		err = b.copyMultipart(ctx, rec.Stage, s.Key, etag, size)
	default:
		err = b.copyObject(ctx, rec.Stage, s.Key, etag)
	}
	if err != nil {
		return err
	}
	// The staging object goes at once, on its own: teardown would take it
	// too, but in one DeleteObjects with the slot's small objects.
	_, err = b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: aws.String(rec.Stage)})
	if isNotFound(err) {
		err = nil
	}
	return err
}
