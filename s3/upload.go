package s3

import (
	"context"
	"errors"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/berthio/berth/internal/multipart"
)

// Uploads, Delete and Move run the protocol of package internal/multipart
// (its doc describes the records, fencing and tails). store is its S3
// side: each method one SDK call, or a paginated listing. What S3 does
// its own way: the conditional create is PUT If-None-Match: *, which both
// MinIO and RGW let exactly one of several racing writers win, and which
// RGW sometimes refuses with 500 instead of 412 (BACKENDS.md); completion
// may be staged (stage.go); and the SDK retries a lost answer itself.
type store struct{ b *backend }

var (
	_ multipart.Store  = store{}
	_ multipart.Stager = store{}
)

func (s store) Put(ctx context.Context, key string, body []byte) error {
	_, err := s.b.client.PutObject(ctx, s.b.putInput(key, body))
	return err
}

func (s store) Create(ctx context.Context, key string, body []byte) (string, error) {
	in := s.b.putInput(key, body)
	in.IfNoneMatch = aws.String("*")
	out, err := s.b.client.PutObject(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// CreateFailed: a 412 may be our own write retried by the SDK after a
// lost answer, and a 5xx may have been a refusal (RGW) or a write done:
// both are read back. After a 5xx a missing object means nothing was
// written.
func (s store) CreateFailed(_ context.Context, err error) (readBack, absentIsFailure bool) {
	return isPreconditionFailed(err) || isServerError(err), isServerError(err)
}

func (s store) Get(ctx context.Context, key string) (io.ReadCloser, string, error) {
	out, err := s.b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.b.bucket, Key: aws.String(key)})
	if err != nil {
		return nil, "", err
	}
	return out.Body, aws.ToString(out.ETag), nil
}

func (s store) Stat(ctx context.Context, key string) (multipart.Object, error) {
	out, err := s.b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.b.bucket, Key: aws.String(key)})
	if err != nil {
		return multipart.Object{}, err
	}
	return multipart.Object{Key: key, ETag: aws.ToString(out.ETag), Size: aws.ToInt64(out.ContentLength),
		Modified: aws.ToTime(out.LastModified)}, nil
}

func (s store) List(ctx context.Context, prefix string, fn func(multipart.Object) error) error {
	pages := s3.NewListObjectsV2Paginator(s.b.client, &s3.ListObjectsV2Input{Bucket: &s.b.bucket, Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			err := fn(multipart.Object{Key: aws.ToString(o.Key), ETag: aws.ToString(o.ETag),
				Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (s store) Delete(ctx context.Context, key string) error {
	_, err := s.b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.b.bucket, Key: aws.String(key)})
	return err
}

func (s store) DeleteKeys(ctx context.Context, keys []string) error { return s.b.deleteKeys(ctx, keys) }
func (s store) IsNotFound(err error) bool                           { return isNotFound(err) }
func (s store) IsPreconditionFailed(err error) bool                 { return isPreconditionFailed(err) }

func (s store) CreateMultipart(ctx context.Context, key string) (string, error) {
	in := &s3.CreateMultipartUploadInput{Bucket: &s.b.bucket, Key: aws.String(key)}
	in.ServerSideEncryption, in.SSEKMSKeyId = s.b.sse()
	in.StorageClass, in.ACL = s.b.storageClass(), s.b.acl()
	out, err := s.b.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.UploadId), nil
}

func (s store) UploadPart(ctx context.Context, key, id string, n int32, data []byte) (string, error) {
	return s.b.uploadPart(ctx, key, id, n, data)
}

func (s store) Complete(ctx context.Context, key, id string, parts []multipart.Part) error {
	return s.b.complete(ctx, key, id, parts)
}

func (s store) Abort(ctx context.Context, key, id string) { s.b.abort(ctx, key, id) }

// ListMultipart: MinIO answers ListMultipartUploads for an exact key or
// the whole bucket only, RGW for a real prefix.
func (s store) ListMultipart(ctx context.Context, prefix string, fn func(multipart.Upload) error) error {
	in := &s3.ListMultipartUploadsInput{Bucket: &s.b.bucket}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	for {
		out, err := s.b.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return err
		}
		for _, u := range out.Uploads {
			err := fn(multipart.Upload{Key: aws.ToString(u.Key), ID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)})
			if err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

func (s store) Staged(ctx context.Context) (bool, error) { return s.b.stagedMode(ctx) }
func (s store) MayStage() bool                           { return s.b.mayStage() }

func (s store) CommitStaged(ctx context.Context, sl *multipart.Slot, rec *multipart.Record, parts []multipart.Part) error {
	return s.b.commitStaged(ctx, sl, rec, parts)
}

// isServerError reports a 5xx answer. RGW answers some losing conditional
// writes with 500 (BACKENDS.md), so after one the outcome is read back.
func isServerError(err error) bool {
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() >= 500
}
