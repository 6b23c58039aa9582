package s3

import (
	"context"
	"strings"
	"time"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/multipart"
)

var _ driver.Sweeper = (*backend)(nil)

// Sweep removes what killed processes, or answers lost on the network,
// left behind longer than olderThan ago (by the server's clock): Move
// claims whose mover died, and multipart uploads that no live upload
// record names (created by a process killed before it recorded them, or by
// a retry after a lost answer, F16), at the path or at a staging key, and
// what a process killed in a staged Commit or in the CommitMode probe left
// (stage.go). An upload in progress keeps the
// multipart upload its record names. Sealed slots whose teardown did not
// run go with Delete of their path, as distribution's purger does.
// olderThan must exceed the longest Move: a multipart copy in progress
// has a multipart upload no record names, and a live claim.
func (b *backend) Sweep(ctx context.Context, olderThan time.Duration) error {
	cutoff := time.Now().Add(-olderThan)
	if err := b.uploads.SweepClaims(ctx, cutoff); err != nil {
		return err
	}
	if err := b.sweepStages(ctx, cutoff); err != nil {
		return err
	}
	// MinIO lists uploads for an exact key or for the whole bucket only.
	internal := b.key(driver.InternalPrefix) + "/"
	return store{b}.ListMultipart(ctx, "", func(u multipart.Upload) error {
		if b.prefix != "" && !strings.HasPrefix(u.Key, b.prefix+"/") || !u.Initiated.Before(cutoff) {
			return nil
		}
		p, probe := b.path(u.Key), strings.HasPrefix(u.Key, b.probePrefix())
		if strings.HasPrefix(u.Key, internal) {
			sp, ok := b.stagePath(u.Key)
			if !ok && !probe {
				return nil
			}
			p = sp
		}
		if !probe {
			live, err := b.uploads.Recorded(ctx, p, u.ID)
			if err != nil {
				return err
			}
			if live {
				return nil // the live upload's own
			}
		}
		b.abort(ctx, u.Key, u.ID)
		return nil
	})
}

// stagePath is the path of the upload whose staging key is key.
func (b *backend) stagePath(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, b.key(driver.InternalPrefix+"/uploads"))
	i := strings.LastIndex(rest, "~u/stage.")
	if !ok || i < 0 || strings.Contains(rest[i+len("~u/stage."):], "/") {
		return "", false
	}
	return rest[:i], true
}

// sweepStages removes staging objects of uploads that are sealed (a Commit
// killed between completing and copying) or gone, and probe objects,
// older than cutoff.
func (b *backend) sweepStages(ctx context.Context, cutoff time.Time) error {
	var stale []string
	for _, prefix := range []string{b.key(driver.InternalPrefix+"/uploads") + "/", b.probePrefix()} {
		err := store{b}.List(ctx, prefix, func(o multipart.Object) error {
			if !o.Modified.Before(cutoff) {
				return nil
			}
			if strings.HasPrefix(o.Key, b.probePrefix()) {
				stale = append(stale, o.Key)
				return nil
			}
			p, ok := b.stagePath(o.Key)
			if !ok {
				return nil
			}
			s := b.uploads.Slot(p)
			h, err := s.Latest(ctx)
			if err != nil {
				return err
			}
			if !h.Live() || s.StageKey(h.Rec.Upload) != o.Key {
				stale = append(stale, o.Key)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return b.deleteKeys(ctx, stale)
}
