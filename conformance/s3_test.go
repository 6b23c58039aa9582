package conformance_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

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
	raw := awss3.New(awss3.Options{
		Region: env[srv.regionName], BaseEndpoint: aws.String(env[srv.endpoint]), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(env[srv.access], env[srv.secret], ""),
	})
	bucket := testenv.NewS3Bucket(tb, raw, "berth-conf-")

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
		NewVia: func(tb testing.TB, via func(string) string) driver.Driver {
			u, err := url.Parse(cfg.Endpoint)
			if err != nil {
				tb.Fatalf("%s endpoint: %v", srv.id, err)
			}
			c := cfg
			c.Endpoint = u.Scheme + "://" + via(u.Host)
			d, err := s3.New(context.Background(), c)
			if err != nil {
				tb.Fatalf("open %s through a proxy: %v", srv.id, err)
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
