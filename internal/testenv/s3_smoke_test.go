package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestS3Smoke checks that the S3 servers up.sh starts take the settings it
// wrote: a bucket, a put, a get and the clean-up, with aws-sdk-go-v2 as the
// project uses it (path style, BaseEndpoint). It skips without servers, and
// fails under CI=true.
func TestS3Smoke(t *testing.T) {
	for _, c := range []struct {
		name                                string
		endpoint, access, secret, regionKey string
	}{
		{"minio", S3MinioEndpoint, S3MinioAccessKey, S3MinioSecretKey, S3MinioRegion},
		{"rgw", S3RGWEndpoint, S3RGWAccessKey, S3RGWSecretKey, S3RGWRegion},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Require(t, c.endpoint, c.access, c.secret, c.regionKey)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cl := s3.New(s3.Options{
				Region:       cfg[c.regionKey],
				BaseEndpoint: aws.String(cfg[c.endpoint]),
				UsePathStyle: true,
				Credentials:  credentials.NewStaticCredentialsProvider(cfg[c.access], cfg[c.secret], ""),
			})

			var rnd [6]byte
			rand.Read(rnd[:])
			bucket := "berth-smoke-" + hex.EncodeToString(rnd[:])
			if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
				t.Fatalf("CreateBucket %s at %s: %v", bucket, cfg[c.endpoint], err)
			}
			key := "dir/hello.txt"
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key})
				if _, err := cl.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket}); err != nil {
					t.Errorf("DeleteBucket %s: %v", bucket, err)
				}
			})

			body := bytes.Repeat([]byte("berth "), 1000)
			if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatalf("reading the object: %v", err)
			}
			if !bytes.Equal(got, body) {
				t.Fatalf("GetObject returned %d bytes, not the %d put", len(got), len(body))
			}
			if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
				t.Fatalf("DeleteObject: %v", err)
			}
		})
	}
}
