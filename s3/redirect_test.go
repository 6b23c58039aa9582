package s3

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRedirect: RedirectURL gives URLs a plain HTTP client, without
// credentials, can GET and HEAD (CONTRACT 15), valid for RedirectExpiry.
func TestRedirect(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		bucket, raw := newBucket(t, s)
		ctx := context.Background()
		body := bytes.Repeat([]byte("layer "), 10000)
		_, err := raw.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket,
			Key: aws.String("docker/registry/blobs/data"), Body: bytes.NewReader(body)})
		require.NoError(t, err)

		for _, mode := range []string{ChecksumWhenRequired, ChecksumWhenSupported} {
			t.Run(mode, func(t *testing.T) {
				cfg := s.config(bucket)
				cfg.RootDirectory = "/docker/registry"
				cfg.RedirectExpiry = 90 * time.Second
				cfg.ChecksumMode = mode
				st, err := New(ctx, cfg)
				require.NoError(t, err)

				get, err := st.RedirectURL(httptest.NewRequest(http.MethodGet, "/v2/x/blobs/sha256:1", nil), "/blobs/data")
				require.NoError(t, err)
				u, err := url.Parse(get)
				require.NoError(t, err)
				assert.Equal(t, "90", u.Query().Get("X-Amz-Expires"))
				assert.Equal(t, "AWS4-HMAC-SHA256", u.Query().Get("X-Amz-Algorithm"))
				assert.NotContains(t, get, s.secret)

				resp, err := http.Get(get)
				require.NoError(t, err)
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode, "%s", got)
				assert.Equal(t, body, got)

				head, err := st.RedirectURL(httptest.NewRequest(http.MethodHead, "/v2/x/blobs/sha256:1", nil), "/blobs/data")
				require.NoError(t, err)
				assert.NotEqual(t, get, head)
				resp, err = http.Head(get)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a GET URL serves HEAD: one URL would do")
				resp, err = http.Head(head)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, strconv.Itoa(len(body)), resp.Header.Get("Content-Length"))

				// A missing blob still gets a URL; the server answers 404.
				missing, err := st.RedirectURL(httptest.NewRequest(http.MethodGet, "/", nil), "/blobs/missing")
				require.NoError(t, err)
				resp, err = http.Get(missing)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusNotFound, resp.StatusCode)

				// The backend itself: a nil request is a GET; other methods get "".
				b := backendOf(t, st)
				plain, err := b.RedirectURL(nil, "/blobs/data")
				require.NoError(t, err)
				resp, err = http.Get(plain)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				none, err := b.RedirectURL(httptest.NewRequest(http.MethodPut, "/", nil), "/blobs/data")
				require.NoError(t, err)
				assert.Empty(t, none)
			})
		}

		t.Run("default expiry", func(t *testing.T) {
			st, err := New(ctx, s.config(bucket))
			require.NoError(t, err)
			get, err := st.RedirectURL(httptest.NewRequest(http.MethodGet, "/", nil), "/docker/registry/blobs/data")
			require.NoError(t, err)
			u, err := url.Parse(get)
			require.NoError(t, err)
			assert.Equal(t, "1200", u.Query().Get("X-Amz-Expires"))
		})

		t.Run("disabled", func(t *testing.T) {
			cfg := s.config(bucket)
			cfg.DisableRedirect = true
			st, err := New(ctx, cfg)
			require.NoError(t, err)
			for _, m := range []string{http.MethodGet, http.MethodHead} {
				u, err := st.RedirectURL(httptest.NewRequest(m, "/", nil), "/docker/registry/blobs/data")
				require.NoError(t, err)
				assert.Empty(t, u)
				u, err = backendOf(t, st).RedirectURL(httptest.NewRequest(m, "/", nil), "/docker/registry/blobs/data")
				require.NoError(t, err)
				assert.Empty(t, u)
			}
		})
	})
}
