package swift

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/ncw/swift/v2"

	"github.com/berthio/berth/driver"
)

// claimTTL is how long a claim on a source protects a Move; an older claim
// belongs to a process that died mid-Move and is taken over.
const claimTTL = 15 * time.Minute

// ClaimPrefix begins the names of the claim containers that Moves within
// container create (in the same account), one per source object; they
// live only while a Move runs, and Sweep removes those a killed process
// left. Container names are short on RGW (63 bytes): hashes are used.
func ClaimPrefix(container string) string {
	h := sha1.Sum([]byte(container))
	return "berth-claim-" + hex.EncodeToString(h[:4]) + "-"
}

// claimName is the claim container of the object key.
func (b *backend) claimName(key string) string {
	h := sha1.Sum([]byte(key))
	return ClaimPrefix(b.cfg.Container) + hex.EncodeToString(h[:16])
}

// claim creates the claim container for key and reports whether this
// call created it. Creating a container is the one operation both Swift
// and RGW serialise (an account-server lock, an exclusive RADOS create):
// of several racing PUTs exactly one gets 201 Created, the others 202
// Accepted (measured: 20 rounds of 3, on both servers). A claim older than
// claimTTL is taken over.
//
// When an answer is lost (connection cut, 5xx), that PUT may have created
// the container, even after we tried again: one created no earlier than a
// second before our first PUT is then taken as ours. A rival that created
// it within that same instant would move too; that needs a lost answer
// and a race at once.
func (b *backend) claim(ctx context.Context, key string) (bool, error) {
	name := b.claimName(key)
	first := time.Now()
	ambiguous := false
	mine := func() (bool, error) {
		_, h, err := b.conn.Container(ctx, name)
		if err != nil {
			return false, err
		}
		created, ok := parseTimestamp(h["X-Timestamp"])
		return ok && !created.Before(first.Add(-time.Second)), nil
	}
	for attempt := 0; attempt < 3; attempt++ {
		resp, _, err := b.conn.Call(ctx, b.storageURL(ctx), swift.RequestOpts{
			Container: name, Operation: "PUT", ErrorMap: swift.ContainerErrorMap, NoResponse: true,
			Headers: swift.Headers{"Content-Length": "0"},
		})
		switch {
		case err == nil && resp.StatusCode == 201:
			return true, nil
		case err == nil && ambiguous:
			return mine() // our lost PUT may have created it after all
		case err == nil && attempt == 0 && b.staleClaim(ctx, name):
			continue
		case err == nil:
			return false, nil
		case !retryable(err) || ctx.Err() != nil:
			return false, err
		}
		ambiguous = true
		won, herr := mine()
		if herr == nil {
			return won, nil
		}
		if statusOf(herr) != 404 {
			return false, err
		}
	}
	return false, driver.Errorf(driver.ErrConflict, "could not claim the source for the move")
}

// staleClaim removes and reports a claim older than claimTTL.
func (b *backend) staleClaim(ctx context.Context, name string) bool {
	_, h, err := b.conn.Container(ctx, name)
	if err != nil {
		return false
	}
	ts, ok := parseTimestamp(h["X-Timestamp"])
	if !ok || time.Since(ts) < claimTTL {
		return false
	}
	return b.conn.ContainerDelete(ctx, name) == nil
}

func (b *backend) release(ctx context.Context, key string) {
	ctx = context.WithoutCancel(ctx)
	retry(ctx, func() (struct{}, error) {
		err := b.conn.ContainerDelete(ctx, b.claimName(key))
		if statusOf(err) == 404 {
			err = nil // deleted by a retry whose first answer was lost
		}
		return struct{}{}, err
	})
}

// parseTimestamp reads an X-Timestamp header (seconds since the epoch,
// with a fraction).
func parseTimestamp(v string) (time.Time, bool) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(f*1e9)), true
}

// claimed reports whether a Move of key holds its claim now.
func (b *backend) claimed(ctx context.Context, key string) (bool, error) {
	_, _, err := b.conn.Container(ctx, b.claimName(key))
	if err == nil {
		return true, nil
	}
	if statusOf(err) == 404 {
		return false, nil
	}
	return false, err
}

// Move claims the source, copies it to dst on the server and deletes the
// source. Of several instances moving one source, the one that creates the
// claim moves it; the others get ErrNotFound, as if it had finished (F2).
// A Static Large Object is moved by copying its manifest
// (multipart-manifest=get), never its data, so a Move above 5 GiB is one
// small request (F13); the segments' ownership passes to dst with the
// manifest and its X-Object-Meta-Berth-Upload, and the source's manifest
// alone is deleted, so a later Delete of the source's directory finds
// nothing of them (F8). An object replaced at dst has its own segments
// removed afterwards.
func (b *backend) Move(ctx context.Context, src, dst string) error {
	skey, dkey := b.key(src), b.key(dst)
	if src == dst {
		_, _, err := b.head(ctx, b.cfg.Container, skey)
		return err // moving onto itself leaves it as it is
	}
	won, err := b.claim(ctx, skey)
	if err != nil {
		return err
	}
	if !won {
		return driver.Errorf(driver.ErrNotFound, "being moved by another instance")
	}
	defer b.release(ctx, skey)
	_, h, err := b.head(ctx, b.cfg.Container, skey)
	if err != nil {
		return err // gone: moved or deleted by another instance
	}
	upload := ""
	if h.IsLargeObjectSLO() {
		upload = h[metaUpload]
	}
	previous, err := b.uploadOf(ctx, dkey)
	if err != nil {
		return err
	}
	if err := b.copyManifest(ctx, skey, dkey); err != nil {
		if isNotFound(err) && upload != "" {
			// Deleted under us: Delete saw our claim and left the
			// segments, which no manifest names now.
			b.removeSegments(context.WithoutCancel(ctx), upload, nil)
		}
		return err
	}
	if err := b.deleteObject(ctx, b.cfg.Container, skey); err != nil && !isNotFound(err) {
		return err
	}
	if previous != upload {
		return b.dropReplaced(ctx, dkey, previous)
	}
	return nil
}
