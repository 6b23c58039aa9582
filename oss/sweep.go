package oss

import (
	"context"
	"strings"
	"time"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/berthio/berth/driver"
)

var _ driver.Sweeper = (*backend)(nil)

// Sweep removes what killed processes, or answers lost on the network,
// left behind longer than olderThan ago: Move claims whose mover died, and
// multipart uploads under the root that no live upload record names
// (created by a process killed before it recorded them, F16). An upload in
// progress keeps the multipart upload its record names. olderThan must
// exceed the longest Move: a multipart copy in progress has a multipart
// upload no record names, and a live claim.
func (b *backend) Sweep(ctx context.Context, olderThan time.Duration) error {
	cutoff := time.Now().Add(-olderThan)
	var stale []string
	err := b.eachPage(ctx, b.key(driver.InternalPrefix+"/moves")+"/", "", func(page alioss.ListObjectsResultV2) error {
		for _, o := range page.Objects {
			if o.LastModified.Before(cutoff) {
				stale = append(stale, o.Key)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := b.deleteKeys(ctx, stale); err != nil {
		return err
	}
	internal := b.key(driver.InternalPrefix) + "/"
	return b.eachUpload(ctx, b.dirKey("/"), func(u alioss.UncompletedUpload) error {
		if strings.HasPrefix(u.Key, internal) || !u.Initiated.Before(cutoff) {
			return nil
		}
		h, err := b.slot(b.path(u.Key)).latest(ctx)
		if err != nil {
			return err
		}
		if h.n > 0 && !h.sealed && h.rec.UploadID == u.UploadID {
			return nil // the live upload's own
		}
		b.abort(ctx, u.Key, u.UploadID)
		return nil
	})
}
