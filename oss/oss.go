package oss

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/multipart"
	"github.com/berthio/berth/internal/objkey"
)

// Name is the registered driver name and URL scheme.
const Name = "oss"

// MaxObjectSize is OSS's largest object (48.8 TB: 10,000 parts of 5 GB).
const MaxObjectSize int64 = 48_800_000_000_000

// backend translates driver calls to OSS requests. New (client.go) builds
// it.
type backend struct {
	cfg    Config
	client *alioss.Client
	bucket *alioss.Bucket
	prefix string // RootDirectory without leading or trailing '/'; "" for the bucket root

	// uploads runs the upload protocol, Delete and Move (upload.go).
	uploads *multipart.Bucket
}

var _ driver.Backend = (*backend)(nil)

func (b *backend) Name() string { return Name }

// Capabilities: OSS lists a write as soon as it returns (Strong). Fencing
// is declared strict, resting on x-oss-forbid-overwrite being atomic under
// races: the test server makes it so; real OSS documents the header but
// not its atomicity, and the conformance suite run against real OSS
// (backend oss-real) is what measures it.
func (b *backend) Capabilities() driver.Capabilities {
	return driver.Capabilities{
		Listing:               driver.Strong,
		Fencing:               driver.FencingStrict,
		Redirect:              !b.cfg.DisableRedirect,
		MaxObjectSize:         MaxObjectSize,
		SharedAcrossProcesses: true,
	}
}

// key, dirKey and path map driver paths to keys and back, as
// distribution's oss driver lays keys out (objkey.Layout).
func (b *backend) key(p string) string    { return objkey.Layout(b.prefix).Key(p) }
func (b *backend) dirKey(p string) string { return objkey.Layout(b.prefix).Dir(p) }
func (b *backend) path(key string) string { return objkey.Layout(b.prefix).Path(key) }

// opts is the context option every call takes, plus extra.
func opts(ctx context.Context, extra ...alioss.Option) []alioss.Option {
	return append([]alioss.Option{alioss.WithContext(ctx)}, extra...)
}

// writeOpts adds the settings every object write shares.
func (b *backend) writeOpts(ctx context.Context, extra ...alioss.Option) []alioss.Option {
	o := opts(ctx, extra...)
	if b.cfg.SSE != "" {
		o = append(o, alioss.ServerSideEncryption(b.cfg.SSE))
		if b.cfg.SSEKMSKeyID != "" {
			o = append(o, alioss.ServerSideEncryptionKeyID(b.cfg.SSEKMSKeyID))
		}
	}
	return o
}

// put writes body at key; with forbid, only if key does not exist (OSS's
// x-oss-forbid-overwrite). It returns the object's ETag.
func (b *backend) put(ctx context.Context, key string, body []byte, forbid bool) (string, error) {
	var hdr http.Header
	o := b.writeOpts(ctx, alioss.GetResponseHeader(&hdr), alioss.ContentType("application/octet-stream"))
	if forbid {
		o = append(o, alioss.ForbidOverWrite(true))
	}
	if err := b.bucket.PutObject(key, bytes.NewReader(body), o...); err != nil {
		return "", err
	}
	return hdr.Get("ETag"), nil
}

// head returns size, ETag and modification time of key.
func (b *backend) head(ctx context.Context, key string) (int64, string, time.Time, error) {
	h, err := b.bucket.GetObjectDetailedMeta(key, opts(ctx)...)
	if err != nil {
		return 0, "", time.Time{}, err
	}
	size, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil {
		return 0, "", time.Time{}, fmt.Errorf("HEAD %s: bad Content-Length %q", key, h.Get("Content-Length"))
	}
	mod, _ := http.ParseTime(h.Get("Last-Modified"))
	return size, h.Get("ETag"), mod, nil
}

func (b *backend) get(ctx context.Context, key string) ([]byte, error) {
	r, err := b.bucket.GetObject(key, opts(ctx)...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func (b *backend) GetContent(ctx context.Context, p string) ([]byte, error) {
	return b.get(ctx, b.key(p))
}

// PutContent is one PutObject: OSS replaces an object atomically.
func (b *backend) PutContent(ctx context.Context, p string, content []byte) error {
	_, err := b.put(ctx, b.key(p), content, false)
	return err
}

// NewRangeReader asks for the range at once; a plain GET reads from 0 to
// the end. A range always carries x-oss-range-behavior: standard: by
// default OSS answers a range past the end with the whole object (200), a
// silent wrong read; standard makes it 416, and a HEAD then tells an empty
// read at the end from an invalid offset.
func (b *backend) NewRangeReader(ctx context.Context, p string, offset, length int64) (io.ReadCloser, error) {
	if length == 0 {
		return b.emptyAt(ctx, p, offset)
	}
	o := opts(ctx)
	switch {
	case length > 0:
		o = append(o, alioss.Range(offset, offset+length-1), alioss.RangeBehavior("standard"))
	case offset > 0:
		o = append(o, alioss.NormalizedRange(strconv.FormatInt(offset, 10)+"-"), alioss.RangeBehavior("standard"))
	}
	r, err := b.bucket.GetObject(b.key(p), o...)
	if err != nil {
		if errors.Is(classify(err), driver.ErrInvalidOffset) {
			return b.emptyAt(ctx, p, offset)
		}
		return nil, err
	}
	return r, nil
}

// emptyAt returns an empty reader if offset is at most the size of p.
func (b *backend) emptyAt(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	size, _, _, err := b.head(ctx, b.key(p))
	if err != nil {
		return nil, err
	}
	if offset > size {
		return nil, driver.Errorf(driver.ErrInvalidOffset, "offset %d is past the end (%d bytes)", offset, size)
	}
	return io.NopCloser(strings.NewReader("")), nil
}

// Stat is a HEAD of the object, or else a one-key listing that tells a
// directory (any key below it) from nothing.
func (b *backend) Stat(ctx context.Context, p string) (driver.FileInfo, error) {
	if p != "/" {
		size, _, mod, err := b.head(ctx, b.key(p))
		if err == nil {
			return driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{Path: p, Size: size, ModTime: mod}}, nil
		}
		if !isNotFound(err) {
			return nil, err
		}
		res, err := b.bucket.ListObjectsV2(opts(ctx, alioss.Prefix(b.dirKey(p)), alioss.MaxKeys(1))...)
		if err != nil {
			return nil, err
		}
		if len(res.Objects) == 0 {
			return nil, driver.ErrNotFound
		}
	}
	return driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{Path: p, IsDir: true}}, nil
}

// eachPage runs fn on every page of a ListObjectsV2 of prefix (delimited
// by delim when not empty), 1,000 keys a page.
func (b *backend) eachPage(ctx context.Context, prefix, delim string, fn func(alioss.ListObjectsResultV2) error) error {
	token := ""
	for {
		o := opts(ctx, alioss.Prefix(prefix), alioss.MaxKeys(1000))
		if delim != "" {
			o = append(o, alioss.Delimiter(delim))
		}
		if token != "" {
			o = append(o, alioss.ContinuationToken(token))
		}
		page, err := b.bucket.ListObjectsV2(o...)
		if err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		if !page.IsTruncated || page.NextContinuationToken == "" {
			return nil
		}
		token = page.NextContinuationToken
	}
}

// List is a delimited listing, page by page.
func (b *backend) List(ctx context.Context, p string) ([]string, error) {
	prefix := b.dirKey(p)
	internal := b.dirKey(driver.InternalPrefix)
	var out []string
	err := b.eachPage(ctx, prefix, "/", func(page alioss.ListObjectsResultV2) error {
		for _, o := range page.Objects {
			if o.Key != prefix {
				out = append(out, b.path(o.Key))
			}
		}
		for _, cp := range page.CommonPrefixes {
			if cp != internal {
				out = append(out, b.path(strings.TrimSuffix(cp, "/")))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 && p != "/" {
		return nil, driver.ErrNotFound
	}
	return out, nil
}
