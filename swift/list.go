package swift

import (
	"context"
	"slices"
	"strings"

	"github.com/berthio/berth/driver"
)

// List is a delimited container listing, page by page (ncw/swift follows
// the markers). Swift updates listings asynchronously: Capabilities
// declare them eventual.
func (b *backend) List(ctx context.Context, p string) ([]string, error) {
	prefix := b.dirKey(p)
	objs, err := b.listObjects(ctx, b.cfg.Container, prefix, '/')
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range objs {
		name := strings.TrimSuffix(o.Name, "/")
		if o.PseudoDirectory {
			name = strings.TrimSuffix(o.SubDir, "/")
		}
		if name == "" || name+"/" == prefix || name == strings.TrimSuffix(prefix, "/") {
			continue
		}
		out = append(out, b.path(name))
	}
	out = slices.Compact(out)
	if len(out) == 0 && p != "/" {
		return nil, driver.ErrNotFound
	}
	return out, nil
}

// Walk lists everything below p in one flat listing (one request per
// 10,000 names, not one per directory), then visits it depth first with
// the entries of each directory in byte order of their names. Names sort
// differently ('-' and '.' before '/'), so the listing is ordered again in
// memory.
func (b *backend) Walk(ctx context.Context, p string, fn driver.WalkFn, opts driver.WalkOptions) error {
	prefix := b.dirKey(p)
	internal := b.dirKey(driver.InternalPrefix)
	objs, err := b.listObjects(ctx, b.cfg.Container, prefix, 0)
	if err != nil {
		return err
	}
	var files []driver.FileInfo
	for _, o := range objs {
		if strings.HasSuffix(o.Name, "/") || strings.HasPrefix(o.Name, internal) {
			continue // directory markers of other tools; our own state
		}
		files = append(files, driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{
			Path: b.path(o.Name), Size: o.Bytes, ModTime: o.LastModified}})
	}
	if len(files) == 0 && p != "/" {
		return driver.ErrNotFound
	}
	return driver.WalkFlat(ctx, p, files, fn, opts)
}
