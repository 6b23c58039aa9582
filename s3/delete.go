package s3

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/berthio/berth/driver"
)

// deleteKeys removes keys, 1,000 per request.
func (b *backend) deleteKeys(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := b.deleteBatch(ctx, keys[:n]); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// deleteBatch removes up to 1,000 keys in one request. A key that another
// process deletes at the same moment can fail alone (RGW answers two racing
// deletes of one key with a per-key UnknownError): deleting is idempotent,
// so such keys are tried again; NoSuchKey counts as deleted.
func (b *backend) deleteBatch(ctx context.Context, keys []string) error {
	for attempt := 1; ; attempt++ {
		objs := make([]types.ObjectIdentifier, len(keys))
		for i, k := range keys {
			objs[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := b.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &b.bucket, Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)}})
		var apiErr smithy.APIError
		if err != nil && !errors.As(err, &apiErr) && ctx.Err() == nil {
			// Not an answer but a broken exchange: RGW now and then closes
			// the connection under a 200 DeleteObjects answer (seen in the
			// fault and crash suites, all SDK attempts alike). Deleting is
			// idempotent, so do it key by key.
			return b.deleteEach(ctx, keys)
		}
		if err != nil {
			return err
		}
		var again []string
		for _, e := range out.Errors {
			if aws.ToString(e.Code) != "NoSuchKey" {
				again = append(again, aws.ToString(e.Key))
			}
		}
		if len(again) == 0 {
			return nil
		}
		if attempt == 3 {
			e := out.Errors[0]
			return fmt.Errorf("delete %s: %s: %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
		keys = again
	}
}

// deleteEach deletes keys one request each; a missing key is no error.
func (b *backend) deleteEach(ctx context.Context, keys []string) error {
	for _, k := range keys {
		_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: aws.String(k)})
		if err != nil && !isNotFound(err) {
			return err
		}
	}
	return nil
}

// listKeys lists every key under prefix.
func (b *backend) listKeys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	pages := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// Delete removes the object at p and every key below p/ (never a sibling
// that merely shares the prefix: /a is not /ab), then every upload at or
// below p: each is sealed first, so a writer still holding it fails with
// ErrConflict instead of bringing the data back, then its multipart upload
// is aborted and its state removed.
func (b *backend) Delete(ctx context.Context, p string) error {
	keys, err := b.listKeys(ctx, b.dirKey(p))
	if err != nil {
		return err
	}
	if _, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: aws.String(b.key(p))}); err == nil {
		keys = append(keys, b.key(p))
	} else if !isNotFound(err) {
		return err
	}
	slots, err := b.uploadsUnder(ctx, p)
	if err != nil {
		return err
	}
	// Claims of Moves from p or below whose mover died (F16): the sources
	// go, so do they.
	if err := b.deleteClaimsUnder(ctx, p); err != nil {
		return err
	}
	if len(keys) == 0 && len(slots) == 0 {
		return driver.ErrNotFound
	}
	for _, s := range slots {
		if err := b.deleteUpload(ctx, s); err != nil {
			return err
		}
	}
	return b.deleteKeys(ctx, keys)
}

// deleteClaimsUnder removes the Move claims of p and of paths below it.
func (b *backend) deleteClaimsUnder(ctx context.Context, p string) error {
	base := b.key(driver.InternalPrefix + "/moves" + p)
	keys, err := b.listKeys(ctx, base)
	if err != nil {
		return err
	}
	keys = slices.DeleteFunc(keys, func(k string) bool { return k != base+"~m" && !strings.HasPrefix(k, base+"/") })
	return b.deleteKeys(ctx, keys)
}

// uploadsUnder finds the upload slots of p and of paths below it, from
// the state records (not from ListMultipartUploads, which MinIO answers
// only for an exact key).
func (b *backend) uploadsUnder(ctx context.Context, p string) ([]*slot, error) {
	var out []*slot
	if keys, err := b.listKeys(ctx, b.slot(p).prefix); err != nil {
		return nil, err
	} else if len(keys) > 0 {
		out = append(out, b.slot(p))
	}
	base := b.key(driver.InternalPrefix + "/uploads" + p)
	keys, err := b.listKeys(ctx, base+"/")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, k := range keys {
		i := strings.Index(k, "~u/")
		if i < 0 || seen[k[:i]] {
			continue
		}
		seen[k[:i]] = true
		up := strings.TrimPrefix(k[:i], b.key(driver.InternalPrefix+"/uploads"))
		out = append(out, b.slot(up))
	}
	return out, nil
}

// deleteUpload seals an upload's head (retrying while writers race it) and
// removes it.
func (b *backend) deleteUpload(ctx context.Context, s *slot) error {
	for range 16 {
		h, err := s.latest(ctx)
		if err != nil {
			return err
		}
		if h.n == 0 {
			return s.teardown(ctx, nil, false) // only leftovers
		}
		if !h.sealed {
			if err := s.seal(ctx, h); errors.Is(err, errLost) {
				continue
			} else if err != nil {
				return err
			}
		}
		return s.teardown(ctx, h.rec, true)
	}
	return driver.Errorf(driver.ErrConflict, "upload kept changing while being deleted")
}
