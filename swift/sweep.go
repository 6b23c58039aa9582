package swift

import (
	"context"
	"strings"
	"time"

	"github.com/ncw/swift/v2"

	"github.com/berthio/berth/driver"
)

var _ driver.Sweeper = (*backend)(nil)

// Sweep reclaims what killed processes and undetected writer races left,
// older than olderThan:
//
//   - segments under .berth/segments/<upload>/ whose upload is neither in
//     progress (named by a state under .berth/uploads/) nor owned by a
//     manifest (X-Object-Meta-Berth-Upload of a large object in the
//     container), when the newest of them is older than olderThan;
//   - Move claim containers of this container (ClaimPrefix) older than
//     olderThan, which a Move that died left behind (Move itself takes
//     over one older than 15 minutes).
//
// It lists the whole container and HEADs every object, so it is meant to
// run rarely (the way a registry runs garbage collection). A segment of
// an upload that begins during the sweep is younger than olderThan and
// stays.
func (b *backend) Sweep(ctx context.Context, olderThan time.Duration) error {
	cutoff := time.Now().Add(-olderThan)
	live := map[string]bool{}
	states, err := b.listObjects(ctx, b.cfg.Container, b.internal("uploads")+"/", 0)
	if err != nil {
		return err
	}
	for _, o := range states {
		if up := b.uploadPath(o.Name); up != "" {
			st, err := b.readState(ctx, up)
			if err != nil {
				return err
			}
			if st != nil {
				live[st.Upload] = true
			}
		}
	}
	internal := b.dirKey(driver.InternalPrefix)
	objs, err := b.listObjects(ctx, b.cfg.Container, b.dirKey("/"), 0)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if strings.HasPrefix(o.Name, internal) {
			continue
		}
		upload, err := b.uploadOf(ctx, o.Name)
		if err != nil {
			return err
		}
		live[upload] = true
	}
	segPrefix := b.internal("segments") + "/"
	segs, err := b.listObjects(ctx, b.cfg.SegmentContainer, segPrefix, 0)
	if err != nil {
		return err
	}
	newest := map[string]time.Time{}
	for _, o := range segs {
		upload, _, _ := strings.Cut(strings.TrimPrefix(o.Name, segPrefix), "/")
		if o.LastModified.After(newest[upload]) {
			newest[upload] = o.LastModified
		}
	}
	for upload, t := range newest {
		if !live[upload] && t.Before(cutoff) {
			if err := b.removeSegments(ctx, upload, nil); err != nil {
				return err
			}
		}
	}
	return b.sweepClaims(ctx, cutoff)
}

func (b *backend) sweepClaims(ctx context.Context, cutoff time.Time) error {
	names, err := b.conn.ContainerNamesAll(ctx, &swift.ContainersOpts{Prefix: ClaimPrefix(b.cfg.Container)})
	if err != nil {
		return err
	}
	for _, name := range names {
		_, h, err := b.conn.Container(ctx, name)
		if err != nil {
			continue
		}
		if ts, ok := parseTimestamp(h["X-Timestamp"]); ok && ts.Before(cutoff) {
			b.conn.ContainerDelete(ctx, name)
		}
	}
	return nil
}
