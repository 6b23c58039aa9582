package oss

import (
	"context"
	"strings"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/berthio/berth/driver"
)

// Walk lists everything below p in one flat listing (one request per 1,000
// keys, not one per directory), then visits it depth first with the
// entries of each directory in byte order of their names, as the Driver
// doc orders it. Keys sort differently ('-' and '.' sort before '/'), so
// the listing is ordered again in memory: about 100 bytes per key.
func (b *backend) Walk(ctx context.Context, p string, fn driver.WalkFn, wo driver.WalkOptions) error {
	prefix := b.dirKey(p)
	internal := b.dirKey(driver.InternalPrefix)
	var files []driver.FileInfo
	err := b.eachPage(ctx, prefix, "", func(page alioss.ListObjectsResultV2) error {
		for _, o := range page.Objects {
			if strings.HasSuffix(o.Key, "/") || strings.HasPrefix(o.Key, internal) {
				continue // directory markers of other tools; our own state
			}
			files = append(files, driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{
				Path: b.path(o.Key), Size: o.Size, ModTime: o.LastModified}})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(files) == 0 && p != "/" {
		return driver.ErrNotFound
	}
	return driver.WalkFlat(ctx, p, files, fn, wo)
}
