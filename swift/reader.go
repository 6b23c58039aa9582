package swift

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ncw/swift/v2"

	"github.com/berthio/berth/driver"
)

func (b *backend) GetContent(ctx context.Context, p string) ([]byte, error) {
	rc, err := b.openData(ctx, b.key(p), nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// openData GETs an object of the data container. Swift's object server
// answers 404 to a GET that loses a race with the clean-up of the version
// a concurrent PUT just replaced (measured: a few in a thousand reads
// during replacements): a 404 is checked with a HEAD, and the GET tried
// again while the HEAD finds the object.
func (b *backend) openData(ctx context.Context, key string, h swift.Headers) (io.ReadCloser, error) {
	for i := 0; ; i++ {
		rc, err := b.open(ctx, b.cfg.Container, key, h)
		if err == nil || !isNotFound(err) || i == 3 {
			return rc, err
		}
		if _, _, herr := b.head(ctx, b.cfg.Container, key); herr != nil {
			return nil, err
		}
	}
}

// PutContent replaces the object with one PUT (atomic on Swift). If it
// replaced a large object, that object's segments are removed afterwards.
func (b *backend) PutContent(ctx context.Context, p string, content []byte) error {
	key := b.key(p)
	previous, err := b.uploadOf(ctx, key)
	if err != nil {
		return err
	}
	if _, err := b.putObject(ctx, b.cfg.Container, key, content, nil); err != nil {
		return err
	}
	return b.dropReplaced(ctx, key, previous)
}

// NewRangeReader is one GET, with a Range header unless the whole object
// is read. An offset at or past the end draws 416; a HEAD then tells an
// empty read at the end from an invalid offset.
func (b *backend) NewRangeReader(ctx context.Context, p string, offset, length int64) (io.ReadCloser, error) {
	if length == 0 {
		return b.emptyAt(ctx, p, offset)
	}
	var h swift.Headers
	switch {
	case length > 0:
		h = swift.Headers{"Range": fmt.Sprintf("bytes=%d-%d", offset, offset+length-1)}
	case offset > 0:
		h = swift.Headers{"Range": fmt.Sprintf("bytes=%d-", offset)}
	}
	f, err := b.openData(ctx, b.key(p), h)
	if err != nil {
		if statusOf(err) == 416 {
			return b.emptyAt(ctx, p, offset)
		}
		return nil, err
	}
	return f, nil
}

// emptyAt returns an empty reader if offset is the size of p.
func (b *backend) emptyAt(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	info, _, err := b.head(ctx, b.cfg.Container, b.key(p))
	if err != nil {
		return nil, err
	}
	if offset > info.Bytes {
		return nil, driver.Errorf(driver.ErrInvalidOffset, "offset %d is past the end (%d bytes)", offset, info.Bytes)
	}
	return io.NopCloser(strings.NewReader("")), nil
}

// Stat is a HEAD of the object, or else a one-name listing that tells a
// directory (anything below it) from nothing. The listing is eventually
// consistent: a directory made an instant ago may not show yet.
func (b *backend) Stat(ctx context.Context, p string) (driver.FileInfo, error) {
	if p != "/" {
		info, _, err := b.head(ctx, b.cfg.Container, b.key(p))
		if err == nil {
			return driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{
				Path: p, Size: info.Bytes, ModTime: info.LastModified}}, nil
		}
		if !isNotFound(err) {
			return nil, err
		}
		objs, err := b.conn.Objects(ctx, b.cfg.Container, &swift.ObjectsOpts{Prefix: b.dirKey(p), Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(objs) == 0 {
			return nil, driver.ErrNotFound
		}
	}
	return driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{Path: p, IsDir: true}}, nil
}
