package multipart

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/berthio/berth/driver"
)

// Delete removes the object at p and every key below p/ (never a sibling
// that merely shares the prefix: /a is not /ab), then every upload at or
// below p: each is sealed first, so a writer still holding it fails with
// ErrConflict instead of bringing the data back, then its multipart upload
// is aborted and its state removed. Claims of Moves from p or below whose
// mover died (F16) go too. Nothing there is ErrNotFound.
func (u *Bucket) Delete(ctx context.Context, p string) error {
	keys, err := u.listKeys(ctx, u.Keys.Dir(p))
	if err != nil {
		return err
	}
	if _, err := u.Store.Stat(ctx, u.key(p)); err == nil {
		keys = append(keys, u.key(p))
	} else if !u.Store.IsNotFound(err) {
		return err
	}
	slots, err := u.uploadsUnder(ctx, p)
	if err != nil {
		return err
	}
	if err := u.deleteClaimsUnder(ctx, p); err != nil {
		return err
	}
	if len(keys) == 0 && len(slots) == 0 {
		return driver.ErrNotFound
	}
	for _, s := range slots {
		if err := u.deleteUpload(ctx, s); err != nil {
			return err
		}
	}
	return u.Store.DeleteKeys(ctx, keys)
}

// deleteClaimsUnder removes the Move claims of p and of paths below it.
func (u *Bucket) deleteClaimsUnder(ctx context.Context, p string) error {
	base := u.internal("/moves" + p)
	keys, err := u.listKeys(ctx, base)
	if err != nil {
		return err
	}
	keys = slices.DeleteFunc(keys, func(k string) bool { return k != base+"~m" && !strings.HasPrefix(k, base+"/") })
	return u.Store.DeleteKeys(ctx, keys)
}

// uploadsUnder finds the upload slots of p and of paths below it, from
// the state records (not from ListMultipart, which MinIO answers only for
// an exact key).
func (u *Bucket) uploadsUnder(ctx context.Context, p string) ([]*Slot, error) {
	var out []*Slot
	if keys, err := u.listKeys(ctx, u.Slot(p).Prefix); err != nil {
		return nil, err
	} else if len(keys) > 0 {
		out = append(out, u.Slot(p))
	}
	base := u.internal("/uploads" + p)
	keys, err := u.listKeys(ctx, base+"/")
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
		out = append(out, u.Slot(strings.TrimPrefix(k[:i], u.internal("/uploads"))))
	}
	return out, nil
}

// deleteUpload seals an upload's head (retrying while writers race it) and
// removes it.
func (u *Bucket) deleteUpload(ctx context.Context, s *Slot) error {
	for range 16 {
		h, err := s.Latest(ctx)
		if err != nil {
			return err
		}
		if h.N == 0 {
			return s.teardown(ctx, nil, false) // only leftovers
		}
		if !h.Sealed {
			if err := s.seal(ctx, h); errors.Is(err, errLost) {
				continue
			} else if err != nil {
				return err
			}
		}
		return s.teardown(ctx, h.Rec, true)
	}
	return driver.Errorf(driver.ErrConflict, "upload kept changing while being deleted")
}

// Recorded reports whether the live upload at path p is the multipart
// upload id: Sweep keeps such an upload.
func (u *Bucket) Recorded(ctx context.Context, p, id string) (bool, error) {
	h, err := u.Slot(p).Latest(ctx)
	if err != nil {
		return false, err
	}
	return h.Live() && h.Rec.UploadID == id, nil
}

// SweepClaims removes the Move claims older than cutoff (by the server's
// clock): their movers died.
func (u *Bucket) SweepClaims(ctx context.Context, cutoff time.Time) error {
	var stale []string
	err := u.Store.List(ctx, u.internal("/moves")+"/", func(o Object) error {
		if o.Modified.Before(cutoff) {
			stale = append(stale, o.Key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return u.Store.DeleteKeys(ctx, stale)
}
