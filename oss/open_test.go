package oss

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

func urlParseQuery(q string) (url.Values, error) { return url.ParseQuery(q) }

// noCredentials fails the test if msg holds a credential.
func noCredentials(t *testing.T, msg string, creds ...string) {
	t.Helper()
	for _, c := range creds {
		if c != "" {
			assert.NotContains(t, msg, c, "a credential in %q", msg)
		}
	}
}

func TestOpenGoodConfig(t *testing.T) {
	ts := newTestServer(t)
	for _, sig := range []string{SignatureV1, SignatureV4} {
		t.Run(sig, func(t *testing.T) {
			cfg := ts.config()
			cfg.RootDirectory = "/docker/registry/"
			cfg.SignatureVersion = sig
			st := ts.open(t, cfg)
			assert.Equal(t, Name, st.Name())
			b := backendOf(t, st)
			assert.Equal(t, "docker/registry", b.prefix)
			assert.Equal(t, DefaultPartSize, b.cfg.PartSize)
			var c *alioss.Client
			require.True(t, st.As(&c))
			var bk *alioss.Bucket
			require.True(t, st.As(&bk))
			var other *http.Client
			assert.False(t, st.As(&other))

			ctx := context.Background()
			require.NoError(t, st.PutContent(ctx, "/a/b", []byte("hello")))
			got, err := bk.GetObject("docker/registry/a/b")
			require.NoError(t, err)
			raw, _ := io.ReadAll(got)
			got.Close()
			assert.Equal(t, "hello", string(raw), "keys are <root>/<path>, as distribution lays them out")
			require.NoError(t, st.Delete(ctx, "/a"))
		})
	}
}

// TestOpenWrongCredentials: a wrong secret or an unknown key is
// ErrPermission at New, with a message that names the fix and no
// credential.
func TestOpenWrongCredentials(t *testing.T) {
	ts := newTestServer(t)
	wrong := randomName("wrong-secret-")
	for _, sig := range []string{SignatureV1, SignatureV4} {
		for name, mod := range map[string]func(*Config){
			"secret": func(c *Config) { c.AccessKeySecret = driver.Secret(wrong) },
			"key id": func(c *Config) { c.AccessKeyID = "LTAInosuchkey" },
		} {
			t.Run(sig+"/"+name, func(t *testing.T) {
				cfg := ts.config()
				cfg.SignatureVersion = sig
				mod(&cfg)
				_, err := New(context.Background(), cfg)
				require.ErrorIs(t, err, driver.ErrPermission)
				assert.Contains(t, err.Error(), "refused access to bucket")
				assert.Contains(t, err.Error(), "check AccessKeyID and AccessKeySecret")
				noCredentials(t, err.Error(), wrong, ts.secret, ts.id)
				var se alioss.ServiceError
				require.True(t, errors.As(err, &se), "the SDK's error is reachable")
			})
		}
	}
}

func TestOpenMissingBucket(t *testing.T) {
	ts := newTestServer(t)
	cfg := ts.config()
	cfg.Bucket = randomName("berth-missing-")
	_, err := New(context.Background(), cfg)
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "does not exist")
	noCredentials(t, err.Error(), ts.secret, ts.id)
}

func TestOpenUnreachableEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	_, err = New(context.Background(), Config{Bucket: "registry", Endpoint: "http://" + addr, Region: "cn-hangzhou",
		AccessKeyID: "LTAIid", AccessKeySecret: "topsecret"})
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "cannot reach endpoint http://"+addr)
	noCredentials(t, err.Error(), "topsecret", "LTAIid")
	assert.Less(t, time.Since(start), 5*time.Second, "a refused connection was retried")
}

func TestOpenEndpointNeverAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	defer func(d time.Duration) { probeTimeout = d }(probeTimeout)
	probeTimeout = 300 * time.Millisecond
	_, err = New(context.Background(), Config{Bucket: "registry", Endpoint: "http://" + l.Addr().String(),
		Region: "cn-hangzhou", AccessKeyID: "LTAIid", AccessKeySecret: "topsecret"})
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "no answer within 300ms")
}

func TestOpenClockSkewAndRegion(t *testing.T) {
	ts := newTestServer(t)
	ts.skew.Store(int64(20 * time.Minute))
	_, err := New(context.Background(), ts.config())
	require.ErrorIs(t, err, driver.ErrPermission)
	assert.Contains(t, err.Error(), "clock")
	ts.skew.Store(0)

	cfg := ts.config()
	cfg.Region = "us-west-1" // V4 signs the region; the server is in cn-hangzhou
	_, err = New(context.Background(), cfg)
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "Region")
}

// TestRuntimeErrors: errors after New carry their kinds, the driver's
// name, operation and path, the SDK's error, and no credential.
func TestRuntimeErrors(t *testing.T) {
	ts := newTestServer(t)
	st := ts.open(t, ts.config())
	ctx := context.Background()

	_, err := st.GetContent(ctx, "/missing")
	require.ErrorIs(t, err, driver.ErrNotFound)
	var de *driver.Error
	require.True(t, errors.As(err, &de))
	assert.Equal(t, "GetContent", de.Op)
	assert.Equal(t, "/missing", de.Path)
	var se alioss.ServiceError
	require.True(t, errors.As(err, &se))
	assert.Equal(t, "NoSuchKey", se.Code)

	_, err = st.Stat(ctx, "/missing")
	require.ErrorIs(t, err, driver.ErrNotFound)

	// The bucket removed behind the driver: not "not found" but a
	// configuration error an operator must see.
	raw := ts.raw(t)
	c := raw.Client
	require.NoError(t, c.DeleteBucket(ts.bucket))
	_, err = st.GetContent(ctx, "/x")
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	noCredentials(t, err.Error(), ts.secret, ts.id)
}

// TestRedirectURL: presigned GET and HEAD URLs a plain client fetches
// without credentials, for V1 and V4 signing; expired ones are refused.
func TestRedirectURL(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	body := []byte(strings.Repeat("layer ", 10000))
	for _, sig := range []string{SignatureV1, SignatureV4} {
		t.Run(sig, func(t *testing.T) {
			cfg := ts.config()
			cfg.SignatureVersion, cfg.RedirectExpiry, cfg.RootDirectory = sig, 90*time.Second, "/registry"
			st := ts.open(t, cfg)
			require.NoError(t, st.PutContent(ctx, "/blobs/data", body))

			get, err := st.RedirectURL(httptest.NewRequest(http.MethodGet, "/v2/x/blobs/sha256:1", nil), "/blobs/data")
			require.NoError(t, err)
			noCredentials(t, get, ts.secret)
			resp, err := http.Get(get)
			require.NoError(t, err)
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", got)
			assert.Equal(t, body, got)

			head, err := st.RedirectURL(httptest.NewRequest(http.MethodHead, "/", nil), "/blobs/data")
			require.NoError(t, err)
			resp, err = http.Head(head)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, fmt.Sprint(len(body)), resp.Header.Get("Content-Length"))

			none, err := st.RedirectURL(httptest.NewRequest(http.MethodPut, "/", nil), "/blobs/data")
			require.NoError(t, err)
			assert.Empty(t, none)

			ts.skew.Store(int64(91 * time.Second))
			resp, err = http.Get(get)
			ts.skew.Store(0)
			require.NoError(t, err)
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "an expired URL")
			assert.Contains(t, string(msg), "AccessDenied")
			require.NoError(t, st.Delete(ctx, "/blobs"))
		})
	}
	t.Run("disabled", func(t *testing.T) {
		cfg := ts.config()
		cfg.DisableRedirect = true
		st := ts.open(t, cfg)
		u, err := st.RedirectURL(httptest.NewRequest(http.MethodGet, "/", nil), "/blobs/data")
		require.NoError(t, err)
		assert.Empty(t, u)
	})
}
