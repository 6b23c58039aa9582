package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// NewS3Bucket creates an empty bucket named prefix plus random hex on the
// server c talks to, and removes it when the test ends with everything left
// in it: multipart uploads in progress, then objects.
func NewS3Bucket(tb testing.TB, c *s3.Client, prefix string) string {
	tb.Helper()
	var rnd [6]byte
	rand.Read(rnd[:])
	bucket := prefix + hex.EncodeToString(rnd[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		tb.Fatalf("create bucket %s: %v", bucket, err)
	}
	tb.Cleanup(func() {
		if err := removeBucket(c, bucket); err != nil {
			tb.Errorf("remove bucket %s: %v", bucket, err)
		}
	})
	return bucket
}

func removeBucket(c *s3.Client, bucket string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		return err
	}
	for _, u := range ups.Uploads {
		c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId})
	}
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		var ids []types.ObjectIdentifier
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		if len(ids) == 0 {
			continue
		}
		if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &bucket,
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}); err != nil {
			// RGW sometimes breaks the DeleteObjects exchange off (its answer
			// cut short: "failed to decode response body"), as the s3
			// driver's Delete also meets: delete key by key instead.
			for _, id := range ids {
				if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: id.Key}); err != nil {
					return err
				}
			}
		}
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket})
	return err
}
