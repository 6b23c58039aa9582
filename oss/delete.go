package oss

import (
	"context"
	"fmt"
	"strings"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/berthio/berth/internal/multipart"
)

// deleteKeys removes keys, 1,000 per DeleteMultipleObjects request (OSS's
// limit). A missing key counts as deleted.
func (b *backend) deleteKeys(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if _, err := b.bucket.DeleteObjects(keys[:n], opts(ctx, alioss.DeleteObjectsQuiet(true))...); err != nil {
			return fmt.Errorf("delete %d keys: %w", n, err)
		}
		keys = keys[n:]
	}
	return nil
}

// Delete removes the object at p, every key below p/ and every upload at
// or below p (multipart.Bucket.Delete), then any other multipart upload at
// or below p that no record names (a Move's copy, a creator killed before
// it recorded one): OSS's ListMultipartUploads takes a real prefix.
func (b *backend) Delete(ctx context.Context, p string) error {
	if err := b.uploads.Delete(ctx, p); err != nil {
		return err
	}
	key, dir := b.key(p), b.dirKey(p)
	return store{b}.ListMultipart(ctx, key, func(u multipart.Upload) error {
		if u.Key == key || strings.HasPrefix(u.Key, dir) {
			b.abort(ctx, u.Key, u.ID)
		}
		return nil
	})
}
