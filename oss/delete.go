package oss

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/berthio/berth/driver"
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

// listKeys lists every key under prefix.
func (b *backend) listKeys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := b.eachPage(ctx, prefix, "", func(page alioss.ListObjectsResultV2) error {
		for _, o := range page.Objects {
			keys = append(keys, o.Key)
		}
		return nil
	})
	return keys, err
}

// Delete removes the object at p and every key below p/ (never a sibling
// that merely shares the prefix: /a is not /ab), then every upload at or
// below p: each is sealed first, so a writer still holding it fails with
// ErrConflict instead of bringing the data back, then its multipart upload
// is aborted and its state removed. Multipart uploads at or below p that
// no record names (a Move's copy, a creator killed before it recorded
// one) are aborted too: OSS's ListMultipartUploads takes a real prefix.
func (b *backend) Delete(ctx context.Context, p string) error {
	keys, err := b.listKeys(ctx, b.dirKey(p))
	if err != nil {
		return err
	}
	if _, _, _, err := b.head(ctx, b.key(p)); err == nil {
		keys = append(keys, b.key(p))
	} else if !isNotFound(err) {
		return err
	}
	slots, err := b.uploadsUnder(ctx, p)
	if err != nil {
		return err
	}
	// Claims of Moves from p or below whose mover died (F16).
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
	if err := b.deleteKeys(ctx, keys); err != nil {
		return err
	}
	key, dir := b.key(p), b.dirKey(p)
	return b.eachUpload(ctx, key, func(u alioss.UncompletedUpload) error {
		if u.Key == key || strings.HasPrefix(u.Key, dir) {
			b.abort(ctx, u.Key, u.UploadID)
		}
		return nil
	})
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
// the state records.
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
			return s.teardown(ctx, "") // only leftovers
		}
		if !h.sealed {
			if err := s.seal(ctx, h); errors.Is(err, errLost) {
				continue
			} else if err != nil {
				return err
			}
		}
		return s.teardown(ctx, h.rec.UploadID)
	}
	return driver.Errorf(driver.ErrConflict, "upload kept changing while being deleted")
}
