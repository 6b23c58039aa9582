package s3_test

import (
	"context"
	"log"
	"os"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/s3"
)

// Open an instance on a bucket of an S3-compatible server (MinIO here).
// New checks the bucket and the credentials with one HeadBucket, so a
// wrong setting fails here rather than at the first push. Leaving
// AccessKey empty uses the AWS SDK's default chain (AWS_* variables,
// shared files, roles), the better place for a secret.
func ExampleNew() {
	ctx := context.Background()
	d, err := s3.New(ctx, s3.Config{
		Bucket:    "registry",
		Endpoint:  "http://127.0.0.1:9000",
		PathStyle: true,
		AccessKey: os.Getenv("MINIO_ACCESS_KEY"),
		SecretKey: driver.Secret(os.Getenv("MINIO_SECRET_KEY")), // prints as REDACTED
	})
	if err != nil {
		log.Fatal(err) // no credential in the message
	}
	if err := d.PutContent(ctx, "/docker/registry/v2/hello", []byte("hi")); err != nil {
		log.Fatal(err)
	}
}
