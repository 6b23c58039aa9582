package s3

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berthio/berth/driver"
)

// Walk lists everything below p in one flat listing (one request per 1,000
// keys, not one per directory), then visits it depth first with the
// entries of each directory in byte order of their names, as the Driver
// doc orders it. Keys sort differently ('-' and '.' sort before '/'), so
// the listing is ordered again in memory: about 100 bytes per key.
func (b *backend) Walk(ctx context.Context, p string, fn driver.WalkFn, opts driver.WalkOptions) error {
	prefix := b.dirKey(p)
	internal := b.dirKey(driver.InternalPrefix)
	var files []driver.FileInfo
	pages := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if strings.HasSuffix(k, "/") || strings.HasPrefix(k, internal) {
				continue // directory markers of other tools; our own state
			}
			files = append(files, driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{
				Path: b.path(k), Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}})
		}
	}
	if len(files) == 0 && p != "/" {
		return driver.ErrNotFound
	}
	return driver.WalkFlat(ctx, p, files, fn, opts)
}
