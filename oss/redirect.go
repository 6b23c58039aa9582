package oss

import (
	"net/http"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// RedirectURL returns a presigned URL, valid for cfg.RedirectExpiry, that a
// plain HTTP client can fetch without credentials: a presigned HEAD for a
// HEAD request (the method is signed, so a GET URL answers HEAD with 403),
// a presigned GET for GET or a nil request. It returns "" with
// DisableRedirect, and for other methods. Signing is local: no network
// call. The URL carries the access key id (as every OSS presigned URL
// does) and, with STS credentials, the security token; never the secret.
func (b *backend) RedirectURL(r *http.Request, path string) (string, error) {
	if b.cfg.DisableRedirect {
		return "", nil
	}
	method := alioss.HTTPGet
	if r != nil {
		switch r.Method {
		case http.MethodGet:
		case http.MethodHead:
			method = alioss.HTTPHead
		default:
			return "", nil
		}
	}
	return b.bucket.SignURL(b.key(path), method, int64(b.cfg.RedirectExpiry.Seconds()))
}
