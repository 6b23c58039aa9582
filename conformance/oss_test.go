package conformance_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/berthio/berth/conformance"
	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/ossserver"
	"github.com/berthio/berth/internal/testenv"
	"github.com/berthio/berth/oss"
)

// The oss backend is this repository's OSS-protocol server
// (internal/ossserver), started in the test process on 127.0.0.1 with a
// temp directory and random keys: it needs nothing installed, so it is
// always available. oss-real is Aliyun OSS itself, configured by these
// variables (from the environment or backends.env); absent, it skips.
const (
	ossRealEndpoint = "BERTH_OSS_ENDPOINT" // https://oss-cn-hangzhou.aliyuncs.com
	ossRealID       = "BERTH_OSS_ACCESS_KEY_ID"
	ossRealSecret   = "BERTH_OSS_ACCESS_KEY_SECRET"
	ossRealBucket   = "BERTH_OSS_BUCKET" // an existing bucket; each run works under a fresh root directory
	ossRealRegion   = "BERTH_OSS_REGION" // cn-hangzhou
	ossRealToken    = "BERTH_OSS_SECURITY_TOKEN"
)

func init() {
	backends = append(backends,
		backend{"oss", true, func(t *testing.T) (conformance.Harness, string) {
			return ossLocalHarness(t), ""
		}},
		backend{"oss-real", false, ossRealHarness},
	)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ossLocalHarness starts an OSS-protocol server for one run of the suite.
func ossLocalHarness(tb testing.TB) conformance.Harness {
	id, secret := "LTAI"+randomHex(8), randomHex(16)
	srv, err := ossserver.New(ossserver.Config{
		Dir:         tb.TempDir(),
		Credentials: []ossserver.Credential{{AccessKeyID: id, AccessKeySecret: secret}},
	})
	if err != nil {
		tb.Fatalf("start the OSS server: %v", err)
	}
	hs := httptest.NewServer(srv)
	tb.Cleanup(hs.Close)
	bucket := "berth-conf-" + randomHex(4)
	if err := srv.CreateBucket(bucket); err != nil {
		tb.Fatal(err)
	}
	cfg := oss.Config{
		Bucket: bucket, Endpoint: hs.URL, Region: srv.Region(),
		AccessKeyID: id, AccessKeySecret: driver.Secret(secret),
		PartSize: 1 << 20, Concurrency: 2,
	}
	h, raw := ossHarness(tb, "oss", cfg), ossRaw(tb, cfg)
	h.Leftovers = func(ctx context.Context) ([]string, error) {
		out, err := ossStateKeys(ctx, raw, "")
		for _, u := range srv.Uploads(bucket) {
			out = append(out, "multipart upload of /"+u)
		}
		return out, err
	}
	return h
}

// ossRealHarness runs the suite on Aliyun OSS under a fresh root directory
// of BERTH_OSS_BUCKET, removed with everything in it afterwards.
func ossRealHarness(t *testing.T) (conformance.Harness, string) {
	env, err := testenv.Load()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	var missing []string
	for _, k := range []string{ossRealEndpoint, ossRealID, ossRealSecret, ossRealBucket, ossRealRegion} {
		if env[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return conformance.Harness{}, "real Aliyun OSS not configured: set " + strings.Join(missing, ", ") +
			" (and optionally " + ossRealToken + ") to run the suite against it"
	}
	root := "berth-conf-" + time.Now().UTC().Format("20060102t150405") + "-" + randomHex(3)
	cfg := oss.Config{
		Bucket: env[ossRealBucket], RootDirectory: root, Endpoint: env[ossRealEndpoint], Region: env[ossRealRegion],
		AccessKeyID: env[ossRealID], AccessKeySecret: driver.Secret(env[ossRealSecret]),
		SecurityToken: driver.Secret(env[ossRealToken]), PartSize: 1 << 20, Concurrency: 4,
	}
	h, raw := ossHarness(t, "oss-real", cfg), ossRaw(t, cfg)
	h.Leftovers = func(ctx context.Context) ([]string, error) {
		out, err := ossStateKeys(ctx, raw, root+"/")
		if err != nil {
			return nil, err
		}
		ups, err := ossUploads(ctx, raw, root+"/")
		return append(out, ups...), err
	}
	t.Cleanup(func() { ossRemoveAll(t, raw, root+"/") })
	return h, ""
}

// ossHarness is the harness of cfg: instances, a URL other processes
// open, and instances through the suite's fault proxies.
func ossHarness(tb testing.TB, name string, cfg oss.Config) conformance.Harness {
	q := url.Values{}
	q.Set("endpoint", cfg.Endpoint)
	q.Set("region", cfg.Region)
	q.Set("access_key_id", cfg.AccessKeyID)
	q.Set("access_key_secret", cfg.AccessKeySecret.Reveal())
	if cfg.SecurityToken != "" {
		q.Set("security_token", cfg.SecurityToken.Reveal())
	}
	q.Set("part_size", strconv.FormatInt(cfg.PartSize, 10))
	q.Set("concurrency", strconv.Itoa(cfg.Concurrency))
	open := func(tb testing.TB, c oss.Config) driver.Driver {
		d, err := oss.New(context.Background(), c)
		if err != nil {
			tb.Fatalf("open %s: %v", name, err)
		}
		return d
	}
	return conformance.Harness{
		Name: name,
		New:  func(tb testing.TB) driver.Driver { return open(tb, cfg) },
		NewVia: func(tb testing.TB, via func(string) string) driver.Driver {
			u, err := url.Parse(cfg.Endpoint)
			if err != nil {
				tb.Fatalf("%s endpoint: %v", name, err)
			}
			c := cfg
			c.Endpoint = u.Scheme + "://" + via(u.Host)
			return open(tb, c)
		},
		URL:      "oss://" + cfg.Bucket + "/" + cfg.RootDirectory + "?" + q.Encode(),
		Registry: reg,
	}
}

// ossRaw is an SDK bucket handle on cfg's bucket, for the harness's own
// listings and clean-up (not through the driver under test).
func ossRaw(tb testing.TB, cfg oss.Config) *alioss.Bucket {
	o := []alioss.ClientOption{alioss.AuthVersion(alioss.AuthV4), alioss.Region(cfg.Region)}
	if cfg.SecurityToken != "" {
		o = append(o, alioss.SecurityToken(cfg.SecurityToken.Reveal()))
	}
	c, err := alioss.New(cfg.Endpoint, cfg.AccessKeyID, cfg.AccessKeySecret.Reveal(), o...)
	if err != nil {
		tb.Fatalf("OSS client: %v", err)
	}
	b, err := c.Bucket(cfg.Bucket)
	if err != nil {
		tb.Fatalf("OSS bucket: %v", err)
	}
	return b
}

// ossStateKeys lists the driver's state objects (.berth/ under root).
func ossStateKeys(ctx context.Context, b *alioss.Bucket, root string) ([]string, error) {
	var out []string
	token := ""
	for {
		o := []alioss.Option{alioss.WithContext(ctx), alioss.Prefix(root + ".berth/"), alioss.MaxKeys(1000)}
		if token != "" {
			o = append(o, alioss.ContinuationToken(token))
		}
		page, err := b.ListObjectsV2(o...)
		if err != nil {
			return nil, err
		}
		for _, obj := range page.Objects {
			out = append(out, "/"+obj.Key)
		}
		if !page.IsTruncated {
			return out, nil
		}
		token = page.NextContinuationToken
	}
}

// ossUploads lists the multipart uploads in progress under root.
func ossUploads(ctx context.Context, b *alioss.Bucket, root string) ([]string, error) {
	res, err := b.ListMultipartUploads(alioss.WithContext(ctx), alioss.Prefix(root), alioss.MaxUploads(1000))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, u := range res.Uploads {
		out = append(out, "multipart upload of /"+u.Key+" "+u.UploadID)
	}
	return out, nil
}

// ossRemoveAll removes every object and upload under root.
func ossRemoveAll(tb testing.TB, b *alioss.Bucket, root string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if res, err := b.ListMultipartUploads(alioss.WithContext(ctx), alioss.Prefix(root), alioss.MaxUploads(1000)); err == nil {
		for _, u := range res.Uploads {
			b.AbortMultipartUpload(alioss.InitiateMultipartUploadResult{Bucket: b.BucketName, Key: u.Key, UploadID: u.UploadID}, alioss.WithContext(ctx))
		}
	}
	for {
		page, err := b.ListObjectsV2(alioss.WithContext(ctx), alioss.Prefix(root), alioss.MaxKeys(1000))
		if err != nil {
			tb.Errorf("clean up %s: %v", root, err)
			return
		}
		if len(page.Objects) == 0 {
			return
		}
		var keys []string
		for _, o := range page.Objects {
			keys = append(keys, o.Key)
		}
		if _, err := b.DeleteObjects(keys, alioss.WithContext(ctx), alioss.DeleteObjectsQuiet(true)); err != nil {
			tb.Errorf("clean up %s: %v", root, err)
			return
		}
	}
}
