package s3

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
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

// Delete removes the object at p, every key below p/ and every upload at
// or below p (multipart.Bucket.Delete).
func (b *backend) Delete(ctx context.Context, p string) error { return b.uploads.Delete(ctx, p) }
