package swift

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/ncw/swift/v2"
)

// Object-level helpers over ncw/swift, with explicit Content-Length (no
// chunked uploads) and no MD5 round trip.

const contentType = "application/octet-stream"

// metaUpload names, on a manifest, the upload whose segments it owns.
const metaUpload = "X-Object-Meta-Berth-Upload"

func (b *backend) putObject(ctx context.Context, container, name string, data []byte, h swift.Headers) (string, error) {
	hdr := swift.Headers{"Content-Length": strconv.Itoa(len(data))}
	for k, v := range h {
		hdr[k] = v
	}
	out, err := retry(ctx, func() (swift.Headers, error) {
		return b.conn.ObjectPut(ctx, container, name, bytes.NewReader(data), false, "", contentType, hdr)
	})
	if err != nil {
		return "", err
	}
	return out["Etag"], nil
}

func (b *backend) getObject(ctx context.Context, container, name string) ([]byte, error) {
	return retry(ctx, func() ([]byte, error) {
		f, _, err := b.conn.ObjectOpen(ctx, container, name, false, nil)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(f)
	})
}

// deleteObjects removes names from container, ignoring those already
// gone: bulk deletes of up to 1,000 names, or one by one where the server
// has no bulk middleware.
func (b *backend) deleteObjects(ctx context.Context, container string, names []string) error {
	for len(names) > 0 {
		n := min(len(names), 1000)
		res, err := retry(ctx, func() (swift.BulkDeleteResult, error) { return b.conn.BulkDelete(ctx, container, names[:n]) })
		if err != nil {
			if statusOf(err) != 0 && statusOf(err) < 500 || err == swift.Forbidden {
				return b.deleteEach(ctx, container, names[:n])
			}
			return err
		}
		for name, e := range res.Errors {
			if !isNotFound(e) {
				return fmt.Errorf("bulk delete of %s: %w", name, e)
			}
		}
		names = names[n:]
	}
	return nil
}

func (b *backend) deleteEach(ctx context.Context, container string, names []string) error {
	for _, name := range names {
		if err := b.deleteObject(ctx, container, name); err != nil && !isNotFound(err) {
			return err
		}
	}
	return nil
}

// listObjects lists every object whose name starts with prefix, page by
// page (ncw/swift follows the markers). Swift listings are eventually
// consistent: callers use them for cleanup and for List/Walk only.
func (b *backend) listObjects(ctx context.Context, container, prefix string, delim rune) ([]swift.Object, error) {
	return retry(ctx, func() ([]swift.Object, error) {
		return b.conn.ObjectsAll(ctx, container, &swift.ObjectsOpts{Prefix: prefix, Delimiter: delim})
	})
}

// copyManifest copies src to dst in the data container with
// multipart-manifest=get: a Static Large Object's manifest is copied, not
// its content, so dst names the same segments; a plain object is copied
// whole. Metadata goes with it.
func (b *backend) copyManifest(ctx context.Context, src, dst string) error {
	return b.call(ctx, swift.RequestOpts{
		Container: b.cfg.Container, ObjectName: src, Operation: "COPY",
		Parameters: url.Values{"multipart-manifest": {"get"}},
		Headers:    swift.Headers{"Destination": url.PathEscape(b.cfg.Container) + "/" + dst},
		NoResponse: true,
	})
}

func (b *backend) storageURL(ctx context.Context) string {
	u, _ := b.conn.GetStorageUrl(ctx)
	return u
}

// uploadOf returns the upload whose segments the object at name owns ("":
// a plain object or none at all).
func (b *backend) uploadOf(ctx context.Context, name string) (string, error) {
	_, h, err := b.head(ctx, b.cfg.Container, name)
	if isNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !h.IsLargeObjectSLO() {
		return "", nil
	}
	return h[metaUpload], nil
}
