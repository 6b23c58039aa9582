package s3

import (
	"context"
	"slices"
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
	slices.SortFunc(files, func(x, y driver.FileInfo) int { return comparePaths(x.Path(), y.Path()) })

	emitted := map[string]bool{p: true}
	skip := "" // a directory whose contents the caller skipped
	visit := func(fi driver.FileInfo) error {
		if skip != "" && driver.IsUnder(fi.Path(), skip) {
			return nil
		}
		if h := opts.StartAfterHint; h != "" && comparePaths(fi.Path(), h) <= 0 {
			return nil
		}
		err := fn(fi)
		if err == driver.ErrSkipDir && fi.IsDir() {
			skip, err = fi.Path(), nil
		}
		return err
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Directories are implied by the keys below them: visit each the
		// first time one of its files comes up.
		rest := strings.TrimPrefix(f.Path(), strings.TrimSuffix(p, "/"))
		dir := strings.TrimSuffix(p, "/")
		for _, comp := range strings.Split(strings.Trim(rest, "/"), "/")[:strings.Count(strings.Trim(rest, "/"), "/")] {
			dir += "/" + comp
			if emitted[dir] {
				continue
			}
			emitted[dir] = true
			if err := visit(driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{Path: dir, IsDir: true}}); err != nil {
				return err
			}
		}
		if err := visit(f); err != nil {
			return err
		}
	}
	return nil
}

// comparePaths orders paths depth first, component by component: a
// directory before its contents, siblings in byte order.
func comparePaths(a, b string) int {
	for {
		ca, ra, moreA := strings.Cut(strings.TrimPrefix(a, "/"), "/")
		cb, rb, moreB := strings.Cut(strings.TrimPrefix(b, "/"), "/")
		if c := strings.Compare(ca, cb); c != 0 {
			return c
		}
		switch {
		case !moreA && !moreB:
			return 0
		case !moreA:
			return -1
		case !moreB:
			return 1
		}
		a, b = ra, rb
	}
}
