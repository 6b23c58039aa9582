package s3

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// RedirectURL returns a presigned URL, valid for cfg.RedirectExpiry, that a
// plain HTTP client can fetch without credentials: a presigned HEAD for a
// HEAD request (a presigned GET URL answers HEAD with 403, the method being
// signed), a presigned GET for GET or a nil request. It returns "" with
// DisableRedirect, and for other methods, as distribution's s3 driver does.
// Presigning is local; it calls the network only when the default
// credential chain must refresh its credentials.
func (b *backend) RedirectURL(r *http.Request, path string) (string, error) {
	if b.cfg.DisableRedirect {
		return "", nil
	}
	ctx, method := context.Background(), http.MethodGet
	if r != nil {
		ctx, method = r.Context(), r.Method
	}
	expires := s3.WithPresignExpires(b.cfg.RedirectExpiry)
	var (
		req *v4.PresignedHTTPRequest
		err error
	)
	switch method {
	case http.MethodGet:
		req, err = b.presign.PresignGetObject(ctx,
			&s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.key(path))}, expires)
	case http.MethodHead:
		req, err = b.presign.PresignHeadObject(ctx,
			&s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.key(path))}, expires)
	default:
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return req.URL, nil
}
