package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/testenv"
)

// server is one real S3 server's settings from testenv.
type server struct {
	name, endpoint, access, secret, region string
}

var serverKeys = map[string][4]string{
	"minio": {testenv.S3MinioEndpoint, testenv.S3MinioAccessKey, testenv.S3MinioSecretKey, testenv.S3MinioRegion},
	"rgw":   {testenv.S3RGWEndpoint, testenv.S3RGWAccessKey, testenv.S3RGWSecretKey, testenv.S3RGWRegion},
}

// eachServer runs f on MinIO and on RGW, each skipped (or failed under
// CI=true) when not configured.
func eachServer(t *testing.T, f func(t *testing.T, s server)) {
	for _, name := range []string{"minio", "rgw"} {
		t.Run(name, func(t *testing.T) {
			k := serverKeys[name]
			v := testenv.Require(t, k[:]...)
			f(t, server{name, v[k[0]], v[k[1]], v[k[2]], v[k[3]]})
		})
	}
}

func (s server) config(bucket string) Config {
	return Config{Bucket: bucket, Endpoint: s.endpoint, Region: s.region, PathStyle: true,
		AccessKey: s.access, SecretKey: driver.Secret(s.secret)}
}

func (s server) raw() *s3.Client {
	return s3.New(s3.Options{Region: s.region, BaseEndpoint: aws.String(s.endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s.access, s.secret, "")})
}

func randomName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// newBucket creates an empty bucket for one test and removes it, with
// whatever the test left in it, afterwards.
func newBucket(t *testing.T, s server) (string, *s3.Client) {
	t.Helper()
	c := s.raw()
	return testenv.NewS3Bucket(t, c, "berth-test-"), c
}

func backendOf(t *testing.T, st *driver.Store) *backend {
	t.Helper()
	var b driver.Backend
	require.True(t, st.As(&b))
	return b.(*backend)
}

func TestOpenGoodConfig(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		bucket, _ := newBucket(t, s)
		cfg := s.config(bucket)
		cfg.RootDirectory = "/docker/registry/"
		st, err := New(context.Background(), cfg)
		require.NoError(t, err)
		assert.Equal(t, Name, st.Name())
		b := backendOf(t, st)
		assert.Equal(t, "docker/registry", b.prefix)
		assert.Equal(t, bucket, b.bucket)
		assert.Equal(t, DefaultPartSize, b.cfg.PartSize)

		var c *s3.Client
		require.True(t, st.As(&c))
		assert.Same(t, b.client, c)
		var pc *s3.PresignClient
		require.True(t, st.As(&pc))
		var other *http.Client
		assert.False(t, st.As(&other))
	})
}

func TestOpenWrongCredentials(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		bucket, _ := newBucket(t, s)
		wrong := randomName("wrong-secret-")
		for name, cfg := range map[string]Config{
			"secret key": func() Config { c := s.config(bucket); c.SecretKey = driver.Secret(wrong); return c }(),
			"access key": func() Config { c := s.config(bucket); c.AccessKey = "BERTHNOSUCHKEY"; return c }(),
		} {
			t.Run(name, func(t *testing.T) {
				_, err := New(context.Background(), cfg)
				require.ErrorIs(t, err, driver.ErrPermission)
				assert.Contains(t, err.Error(), "refused access to bucket")
				for _, secret := range []string{wrong, s.secret} {
					assert.NotContains(t, err.Error(), secret)
				}
				assert.NotContains(t, err.Error(), s.access)
			})
		}
	})
}

func TestOpenMissingBucket(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		_, err := New(context.Background(), s.config(randomName("berth-missing-")))
		require.ErrorIs(t, err, driver.ErrInvalidConfig)
		assert.Contains(t, err.Error(), "does not exist")
		assert.NotContains(t, err.Error(), s.secret)
	})
}

func TestOpenUnreachableEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	_, err = New(context.Background(), Config{Bucket: "registry", Endpoint: "http://" + addr, PathStyle: true,
		AccessKey: "AK", SecretKey: testSecret})
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "cannot reach endpoint http://"+addr)
	assert.NotContains(t, err.Error(), testSecret)
	assert.Less(t, time.Since(start), 5*time.Second, "a refused connection was retried")
}

// blackHole accepts connections and never answers.
func blackHole(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

func TestOpenEndpointNeverAnswers(t *testing.T) {
	defer func(d time.Duration) { probeTimeout = d }(probeTimeout)
	probeTimeout = 300 * time.Millisecond
	cfg := Config{Bucket: "registry", Endpoint: blackHole(t), PathStyle: true, AccessKey: "AK", SecretKey: testSecret}

	start := time.Now()
	_, err := New(context.Background(), cfg)
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "no answer within 300ms")
	assert.Less(t, time.Since(start), 5*time.Second)

	// The caller's own deadline is the caller's, not a configuration error.
	probeTimeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = New(ctx, cfg)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Nil(t, driver.KindOf(err), "%v", err)
}

// countingServer answers every request as S3 would a HeadBucket of an
// existing bucket, and counts them.
func countingServer(t *testing.T, tlsServer bool) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { n.Add(1) })
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // TLS handshakes refused on purpose
	if tlsServer {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestOpenValidatesBeforeNetwork(t *testing.T) {
	srv, requests := countingServer(t, false)
	good := Config{Bucket: "registry", Endpoint: srv.URL, PathStyle: true, AccessKey: "AK", SecretKey: testSecret}
	for name, set := range map[string]func(*Config){
		"part size too small":    func(c *Config) { c.PartSize = 1 << 20 },
		"part size too large":    func(c *Config) { c.PartSize = 6 << 30 },
		"concurrency negative":   func(c *Config) { c.Concurrency = -1 },
		"concurrency too high":   func(c *Config) { c.Concurrency = 65 },
		"kms without aws:kms":    func(c *Config) { c.SSE, c.SSEKMSKeyID = SSEAES256, "key" },
		"kms key without SSE":    func(c *Config) { c.SSEKMSKeyID = "key" },
		"unknown SSE":            func(c *Config) { c.SSE = "SSE-C" },
		"checksum mode":          func(c *Config) { c.ChecksumMode = "always" },
		"redirect expiry":        func(c *Config) { c.RedirectExpiry = 30 * 24 * time.Hour },
		"secret without access":  func(c *Config) { c.AccessKey = "" },
		"bad root directory":     func(c *Config) { c.RootDirectory = "a/../b" },
		"CA file and skip":       func(c *Config) { c.CACertFile, c.InsecureSkipVerify = "/x.pem", true },
		"missing CA file":        func(c *Config) { c.CACertFile = filepath.Join(t.TempDir(), "none.pem") },
		"endpoint with password": func(c *Config) { c.Endpoint = strings.Replace(srv.URL, "//", "//u:"+testSecret+"@", 1) },
	} {
		c := good
		set(&c)
		_, err := New(context.Background(), c)
		if assert.ErrorIs(t, err, driver.ErrInvalidConfig, name) {
			assert.NotContains(t, err.Error(), testSecret, name)
		}
	}
	assert.Zero(t, requests.Load(), "a rejected configuration reached the network")

	_, err := New(context.Background(), good)
	require.NoError(t, err)
	assert.EqualValues(t, 1, requests.Load(), "New makes exactly one request, the HeadBucket")
}

func TestOpenTLS(t *testing.T) {
	srv, _ := countingServer(t, true)
	cfg := Config{Bucket: "registry", Endpoint: srv.URL, PathStyle: true, AccessKey: "AK", SecretKey: testSecret}

	_, err := New(context.Background(), cfg)
	require.ErrorIs(t, err, driver.ErrInvalidConfig, "verification must be on by default")
	assert.Contains(t, err.Error(), "TLS certificate is not trusted")

	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile,
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	withCA := cfg
	withCA.CACertFile = caFile
	_, err = New(context.Background(), withCA)
	assert.NoError(t, err)

	skip := cfg
	skip.InsecureSkipVerify = true
	_, err = New(context.Background(), skip)
	assert.NoError(t, err)

	junk := filepath.Join(dir, "junk.pem")
	require.NoError(t, os.WriteFile(junk, []byte("not a certificate"), 0o600))
	withCA.CACertFile = junk
	_, err = New(context.Background(), withCA)
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "holds no PEM certificate")
}

// isolateAWSEnv keeps the SDK's default chain away from this machine's
// files, variables and instance metadata.
func isolateAWSEnv(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_PROFILE": "", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_ARN": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_S3": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
	} {
		t.Setenv(k, v)
	}
}

func TestOpenDefaultCredentialChain(t *testing.T) {
	t.Run("none found", func(t *testing.T) {
		isolateAWSEnv(t)
		srv, requests := countingServer(t, false)
		_, err := New(context.Background(), Config{Bucket: "registry", Endpoint: srv.URL, PathStyle: true})
		require.ErrorIs(t, err, driver.ErrInvalidConfig)
		assert.Contains(t, err.Error(), "found no credentials")
		assert.Zero(t, requests.Load())
	})
	eachServer(t, func(t *testing.T, s server) {
		bucket, _ := newBucket(t, s)
		isolateAWSEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", s.access)
		t.Setenv("AWS_SECRET_ACCESS_KEY", s.secret)
		cfg := s.config(bucket)
		cfg.AccessKey, cfg.SecretKey = "", ""
		_, err := New(context.Background(), cfg)
		require.NoError(t, err)

		t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-"+s.secret)
		_, err = New(context.Background(), cfg)
		require.ErrorIs(t, err, driver.ErrPermission)
		assert.NotContains(t, err.Error(), s.secret)
	})
}

func TestOpenFromParameters(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		bucket, _ := newBucket(t, s)
		p := distributionParams()
		p["bucket"], p["region"], p["accesskey"], p["secretkey"] = bucket, s.region, s.access, s.secret
		p["regionendpoint"] = strings.TrimPrefix(s.endpoint, "http://")
		p["secure"] = false
		reg := driver.NewRegistry(Factory)
		st, err := reg.FromParameters(context.Background(), Name, p)
		require.NoError(t, err)
		b := backendOf(t, st)
		assert.Equal(t, "registry", b.prefix)
		assert.Equal(t, s.endpoint, b.cfg.Endpoint)
		assert.Equal(t, int64(10<<20), b.cfg.PartSize)
		assert.Equal(t, 100, b.cfg.CopyConcurrency)

		p["secretkey"] = "wrong-" + s.secret
		_, err = reg.FromParameters(context.Background(), Name, p)
		require.ErrorIs(t, err, driver.ErrPermission)
		assert.NotContains(t, err.Error(), s.secret)
	})
}

func TestOpenURL(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		bucket, _ := newBucket(t, s)
		reg := driver.NewRegistry(Factory)
		base := "s3://" + bucket + "/docker/registry?endpoint=" + s.endpoint + "&region=" + s.region +
			"&path_style=true&part_size=33554432&concurrency=4&access_key=" + s.access
		st, err := reg.Open(context.Background(), base+"&secret_key="+s.secret)
		require.NoError(t, err)
		assert.Equal(t, "docker/registry", backendOf(t, st).prefix)

		for _, bad := range []string{
			base + "&secret_key=wrong-" + s.secret,
			base + "&secret_key=" + s.secret + "&part_size=1",
			base + "&secret_key=" + s.secret + "&partsize=33554432",
			"s3://" + s.access + ":" + s.secret + "@" + bucket,
		} {
			_, err := reg.Open(context.Background(), bad)
			if assert.Error(t, err, bad) {
				assert.NotContains(t, err.Error(), s.secret)
			}
		}
	})
}
