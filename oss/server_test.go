package oss

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"

	"sync"
	"sync/atomic"
	"testing"
	"time"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/ossserver"
)

// The package's tests run against internal/ossserver, started in the
// test process with random keys, checked against OSS's documented
// behaviour with aliyun-oss-go-sdk in that package's own tests.

func randomName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// request is one request the server saw.
type request struct {
	Method, Path, Query string
	Length              int64
	CopySource          string
}

// testServer is a running OSS server with a bucket, a clock tests can
// move, and a record of the requests it served.
type testServer struct {
	srv            *ossserver.Server
	url            string
	id, secret     string
	bucket         string
	skew           atomic.Int64
	mu             sync.Mutex
	reqs           []request
	failCopyPartNo string // partNumber whose UploadPartCopy fails with 500
}

func newTestServer(t testing.TB) *testServer {
	t.Helper()
	ts := &testServer{id: randomName("LTAI"), secret: randomName("secret-"), bucket: randomName("berth-test-")}
	srv, err := ossserver.New(ossserver.Config{
		Dir:         t.TempDir(),
		Credentials: []ossserver.Credential{{AccessKeyID: ts.id, AccessKeySecret: ts.secret}},
		Now:         func() time.Time { return time.Now().Add(time.Duration(ts.skew.Load())) },
	})
	require.NoError(t, err)
	require.NoError(t, srv.CreateBucket(ts.bucket))
	ts.srv = srv
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ts.mu.Lock()
		ts.reqs = append(ts.reqs, request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Length: r.ContentLength, CopySource: r.Header.Get("X-Oss-Copy-Source")})
		fail := ts.failCopyPartNo != "" && q.Get("partNumber") == ts.failCopyPartNo && r.Header.Get("X-Oss-Copy-Source") != ""
		ts.mu.Unlock()
		if fail {
			http.Error(w, "injected failure", http.StatusInternalServerError)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	ts.url = hs.URL
	return ts
}

func (ts *testServer) config() Config {
	return Config{Bucket: ts.bucket, Endpoint: ts.url, Region: ossserver.DefaultRegion,
		AccessKeyID: ts.id, AccessKeySecret: driver.Secret(ts.secret)}
}

// requests returns the requests served so far and forgets them.
func (ts *testServer) requests() []request {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := ts.reqs
	ts.reqs = nil
	return out
}

// raw is an SDK bucket handle, not the driver's.
func (ts *testServer) raw(t testing.TB) *alioss.Bucket {
	c, err := alioss.New(ts.url, ts.id, ts.secret, alioss.AuthVersion(alioss.AuthV4), alioss.Region(ossserver.DefaultRegion))
	require.NoError(t, err)
	b, err := c.Bucket(ts.bucket)
	require.NoError(t, err)
	return b
}

func (ts *testServer) open(t testing.TB, cfg Config) *driver.Store {
	t.Helper()
	st, err := New(context.Background(), cfg)
	require.NoError(t, err)
	return st
}

func backendOf(t testing.TB, st *driver.Store) *backend {
	t.Helper()
	var b driver.Backend
	require.True(t, st.As(&b))
	return b.(*backend)
}

// uploadPartSizes are the sizes of the plain UploadPart requests seen.
func uploadPartSizes(reqs []request) []int64 {
	var out []int64
	for _, r := range reqs {
		if r.Method == http.MethodPut && r.CopySource == "" && hasParam(r.Query, "partNumber") {
			out = append(out, r.Length)
		}
	}
	return out
}

func hasParam(rawQuery, name string) bool {
	q, _ := urlParseQuery(rawQuery)
	_, ok := q[name]
	return ok
}
