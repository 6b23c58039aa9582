package oss

import (
	"context"
	"strings"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/multipart"
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
	if err := b.uploads.SweepClaims(ctx, cutoff); err != nil {
		return err
	}
	internal := b.key(driver.InternalPrefix) + "/"
	return store{b}.ListMultipart(ctx, b.dirKey("/"), func(u multipart.Upload) error {
		if strings.HasPrefix(u.Key, internal) || !u.Initiated.Before(cutoff) {
			return nil
		}
		live, err := b.uploads.Recorded(ctx, b.path(u.Key), u.ID)
		if err != nil || live {
			return err // nil for the live upload's own
		}
		b.abort(ctx, u.Key, u.ID)
		return nil
	})
}

func (b *backend) abort(ctx context.Context, key, uploadID string) {
	store{b}.Abort(ctx, key, uploadID)
}
