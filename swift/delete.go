package swift

import (
	"context"
	"strings"

	"github.com/berthio/berth/driver"
)

// Delete removes the object at p and every object below p/ (never a
// sibling that merely shares the prefix: /a is not /ab), with the segments
// each large object owns, then every upload at or below p: its state
// first, so that a writer still holding it fails with ErrConflict instead
// of bringing the data back, then its segments.
//
// A large object's manifest goes first, then, unless a Move of it holds
// its claim (the mover read the manifest before we deleted it and passes
// the segments to the destination), its segments.
func (b *backend) Delete(ctx context.Context, p string) error {
	key := b.key(p)
	var files []string
	objs, err := b.listObjects(ctx, b.cfg.Container, b.dirKey(p), 0)
	if err != nil {
		return err
	}
	for _, o := range objs {
		files = append(files, o.Name)
	}
	if _, _, err := b.head(ctx, b.cfg.Container, key); err == nil {
		files = append(files, key)
	} else if !isNotFound(err) {
		return err
	}
	uploads, err := b.uploadsUnder(ctx, p)
	if err != nil {
		return err
	}
	if len(files) == 0 && len(uploads) == 0 {
		return driver.ErrNotFound
	}
	for _, up := range uploads {
		st, err := b.readState(ctx, up)
		if err != nil {
			return err
		}
		if st != nil {
			if err := b.removeUpload(ctx, up, st); err != nil {
				return err
			}
		}
	}
	var plain []string
	for _, name := range files {
		upload, err := b.uploadOf(ctx, name)
		if err != nil {
			return err
		}
		if upload == "" {
			plain = append(plain, name)
			continue
		}
		if err := b.deleteLarge(ctx, name, upload); err != nil {
			return err
		}
	}
	return b.deleteObjects(ctx, b.cfg.Container, plain)
}

// deleteLarge deletes a manifest (only the manifest: no
// multipart-manifest=delete), then the segments it owned, unless a Move
// of it is under way.
func (b *backend) deleteLarge(ctx context.Context, name, upload string) error {
	if err := b.deleteObject(ctx, b.cfg.Container, name); err != nil && !isNotFound(err) {
		return err
	}
	return b.dropReplaced(ctx, name, upload)
}

// dropReplaced removes the segments of upload, owned by the large object
// at name that a PutContent, Commit or Move has just replaced, unless a
// Move of name holds its claim: that Move may have copied the old manifest
// and now owns them.
func (b *backend) dropReplaced(ctx context.Context, name, upload string) error {
	if upload == "" {
		return nil
	}
	moving, err := b.claimed(ctx, name)
	if err != nil || moving {
		return err
	}
	return b.removeSegments(ctx, upload, nil)
}

// uploadsUnder finds the uploads at p and below: p's own state by name,
// the others from a listing of the states under p (cleanup, not
// correctness: a state written an instant ago may be missing from it).
func (b *backend) uploadsUnder(ctx context.Context, p string) ([]string, error) {
	var out []string
	if _, _, err := b.head(ctx, b.cfg.Container, b.stateName(p)); err == nil {
		out = append(out, p)
	} else if !isNotFound(err) {
		return nil, err
	}
	objs, err := b.listObjects(ctx, b.cfg.Container, b.internal("uploads"+p)+"/", 0)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if up := b.uploadPath(o.Name); up != "" && !strings.Contains(up, "~u/") {
			out = append(out, up)
		}
	}
	return out, nil
}
