package oss

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/berthio/berth/internal/multipart"
)

// Uploads, Delete and Move run the protocol of package internal/multipart
// (its doc describes the records, fencing and tails). store is its OSS
// side: each method one SDK call, or a paginated listing. What OSS does
// its own way: the conditional create is x-oss-forbid-overwrite: true,
// OSS's one conditional write (it refuses If-None-Match on writes), which
// answers 409 FileAlreadyExists; the SDK retries nothing, so a lost
// answer is read back here; ETags are compared in upper case without
// quotes (normETag); and there are no staged commits.
type store struct{ b *backend }

var _ multipart.Store = store{}

// normETag makes ETags from listings and from response headers comparable.
func normETag(e string) string { return strings.ToUpper(strings.Trim(e, `"`)) }

func (s store) Put(ctx context.Context, key string, body []byte) error {
	_, err := s.b.put(ctx, key, body, false)
	return err
}

func (s store) Create(ctx context.Context, key string, body []byte) (string, error) {
	etag, err := s.b.put(ctx, key, body, true)
	return normETag(etag), err
}

// CreateFailed: a refusal (FileAlreadyExists), a 5xx or no answer at all
// is read back, unless the caller gave up; after anything but a refusal a
// missing object means nothing was written.
func (s store) CreateFailed(ctx context.Context, err error) (readBack, absentIsFailure bool) {
	if !isAlreadyExists(err) && !isServerError(err) && httpStatus(err) != 0 || ctx.Err() != nil {
		return false, false
	}
	return true, !isAlreadyExists(err)
}

func (s store) Get(ctx context.Context, key string) (io.ReadCloser, string, error) {
	var hdr http.Header
	r, err := s.b.bucket.GetObject(key, opts(ctx, alioss.GetResponseHeader(&hdr))...)
	if err != nil {
		return nil, "", err
	}
	return r, normETag(hdr.Get("ETag")), nil
}

func (s store) Stat(ctx context.Context, key string) (multipart.Object, error) {
	size, etag, mod, err := s.b.head(ctx, key)
	return multipart.Object{Key: key, ETag: etag, Size: size, Modified: mod}, err
}

func (s store) List(ctx context.Context, prefix string, fn func(multipart.Object) error) error {
	return s.b.eachPage(ctx, prefix, "", func(page alioss.ListObjectsResultV2) error {
		for _, o := range page.Objects {
			if err := fn(multipart.Object{Key: o.Key, ETag: normETag(o.ETag), Size: o.Size, Modified: o.LastModified}); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s store) Delete(ctx context.Context, key string) error {
	return s.b.bucket.DeleteObject(key, opts(ctx)...)
}

func (s store) DeleteKeys(ctx context.Context, keys []string) error { return s.b.deleteKeys(ctx, keys) }
func (s store) IsNotFound(err error) bool                           { return isNotFound(err) }
func (s store) IsPreconditionFailed(err error) bool                 { return isPreconditionFailed(err) }

func (s store) CreateMultipart(ctx context.Context, key string) (string, error) {
	imur, err := s.b.bucket.InitiateMultipartUpload(key, s.b.writeOpts(ctx)...)
	return imur.UploadID, err
}

func (s store) UploadPart(ctx context.Context, key, id string, n int32, data []byte) (string, error) {
	up, err := s.b.bucket.UploadPart(s.b.imur(key, id), bytes.NewReader(data), int64(len(data)), int(n), opts(ctx)...)
	return up.ETag, err
}

func (s store) Complete(ctx context.Context, key, id string, parts []multipart.Part) error {
	return s.b.complete(ctx, key, id, parts)
}

func (s store) Abort(ctx context.Context, key, id string) {
	s.b.bucket.AbortMultipartUpload(s.b.imur(key, id), opts(ctx)...)
}

// ListMultipart: OSS's ListMultipartUploads takes a real prefix.
func (s store) ListMultipart(ctx context.Context, prefix string, fn func(multipart.Upload) error) error {
	km, im := "", ""
	for {
		o := opts(ctx, alioss.Prefix(prefix), alioss.MaxUploads(1000))
		if km != "" {
			o = append(o, alioss.KeyMarker(km), alioss.UploadIDMarker(im))
		}
		out, err := s.b.bucket.ListMultipartUploads(o...)
		if err != nil {
			return err
		}
		for _, u := range out.Uploads {
			if err := fn(multipart.Upload{Key: u.Key, ID: u.UploadID, Initiated: u.Initiated}); err != nil {
				return err
			}
		}
		if !out.IsTruncated || out.NextKeyMarker == "" {
			return nil
		}
		km, im = out.NextKeyMarker, out.NextUploadIDMarker
	}
}

// imur names multipart upload id at key for the SDK.
func (b *backend) imur(key, id string) alioss.InitiateMultipartUploadResult {
	return alioss.InitiateMultipartUploadResult{Bucket: b.cfg.Bucket, Key: key, UploadID: id}
}
