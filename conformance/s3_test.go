package conformance_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/berthio/berth/conformance"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/testenv"
	"github.com/berthio/berth/s3"
)

// s3Server names the settings of one S3 server in backends.env.
type s3Server struct {
	id                                   string
	endpoint, access, secret, regionName string
}

var s3Servers = []s3Server{
	{"s3-minio", testenv.S3MinioEndpoint, testenv.S3MinioAccessKey, testenv.S3MinioSecretKey, testenv.S3MinioRegion},
	{"s3-rgw", testenv.S3RGWEndpoint, testenv.S3RGWAccessKey, testenv.S3RGWSecretKey, testenv.S3RGWRegion},
}

// s3Harness makes a fresh bucket on the server for one run of the suite,
// and removes it with everything in it afterwards.
func s3Harness(tb testing.TB, srv s3Server) conformance.Harness {
	env := testenv.Require(tb, srv.endpoint, srv.access, srv.secret, srv.regionName)
	ctx := context.Background()
	raw := awss3.New(awss3.Options{
		Region: env[srv.regionName], BaseEndpoint: aws.String(env[srv.endpoint]), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(env[srv.access], env[srv.secret], ""),
	})
	var rnd [5]byte
	rand.Read(rnd[:])
	bucket := "berth-conf-" + hex.EncodeToString(rnd[:])
	if _, err := raw.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		tb.Fatalf("create bucket %s on %s: %v", bucket, srv.id, err)
	}
	tb.Cleanup(func() { emptyAndDeleteBucket(tb, raw, bucket) })

	cfg := s3.Config{
		Bucket: bucket, Endpoint: env[srv.endpoint], Region: env[srv.regionName], PathStyle: true,
		AccessKey: env[srv.access], SecretKey: driver.Secret(env[srv.secret]),
		PartSize: s3.MinPartSize, Concurrency: 2,
	}
	q := url.Values{}
	q.Set("endpoint", cfg.Endpoint)
	q.Set("region", cfg.Region)
	q.Set("path_style", "true")
	q.Set("access_key", cfg.AccessKey)
	q.Set("secret_key", cfg.SecretKey.Reveal())
	q.Set("part_size", "5242880")
	return conformance.Harness{
		Name: srv.id,
		New: func(tb testing.TB) driver.Driver {
			d, err := s3.New(context.Background(), cfg)
			if err != nil {
				tb.Fatalf("open %s: %v", srv.id, err)
			}
			return d
		},
		URL:      "s3://" + bucket + "?" + q.Encode(),
		Registry: reg,
		Leftovers: func(ctx context.Context) ([]string, error) {
			return s3Leftovers(ctx, raw, bucket)
		},
	}
}

// s3Leftovers lists the driver's state objects and every multipart upload
// in progress in the bucket (the bucket is the test's own).
func s3Leftovers(ctx context.Context, raw *awss3.Client, bucket string) ([]string, error) {
	var out []string
	pages := awss3.NewListObjectsV2Paginator(raw, &awss3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String(".berth/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			out = append(out, "/"+aws.ToString(o.Key))
		}
	}
	ups, err := raw.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		return nil, err
	}
	for _, u := range ups.Uploads {
		out = append(out, "multipart upload of /"+aws.ToString(u.Key))
	}
	return out, nil
}

func emptyAndDeleteBucket(tb testing.TB, raw *awss3.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if ups, err := raw.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &bucket}); err == nil {
		for _, u := range ups.Uploads {
			raw.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId})
		}
	}
	pages := awss3.NewListObjectsV2Paginator(raw, &awss3.ListObjectsV2Input{Bucket: &bucket})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			tb.Errorf("empty bucket %s: %v", bucket, err)
			return
		}
		var objs []types.ObjectIdentifier
		for _, o := range page.Contents {
			objs = append(objs, types.ObjectIdentifier{Key: o.Key})
		}
		if len(objs) > 0 {
			raw.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: &bucket, Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)}})
		}
	}
	if _, err := raw.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: &bucket}); err != nil && !strings.Contains(err.Error(), "NoSuchBucket") {
		tb.Errorf("delete bucket %s: %v", bucket, err)
	}
}
