package ossserver

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests drive the server with aliyun-oss-go-sdk, the client the oss
// driver uses, and check the answers OSS's documentation gives.

const (
	testID     = "LTAItestaccesskey"
	testSecret = "testsecret0123456789abcdefghij"
	testBucket = "berth-test"
)

// fixture is a running server with a clock tests can move.
type fixture struct {
	srv      *Server
	url      string
	skew     atomic.Int64 // added to the real clock, in ns
	logs     []string
	logMu    sync.Mutex
	endpoint string
}

func start(t testing.TB, mod ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{}
	cfg := Config{
		Dir:         t.TempDir(),
		Credentials: []Credential{{AccessKeyID: testID, AccessKeySecret: testSecret}},
		Now:         func() time.Time { return time.Now().Add(time.Duration(f.skew.Load())) },
		Logf: func(format string, args ...any) {
			f.logMu.Lock()
			f.logs = append(f.logs, fmt.Sprintf(format, args...))
			f.logMu.Unlock()
		},
	}
	for _, m := range mod {
		m(&cfg)
	}
	srv, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, srv.CreateBucket(testBucket))
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	f.srv, f.url, f.endpoint = srv, hs.URL, hs.URL
	return f
}

// bucket is an SDK bucket handle signing with auth (V1 or V4).
func (f *fixture) bucket(t testing.TB, auth oss.AuthVersionType, opts ...oss.ClientOption) *oss.Bucket {
	t.Helper()
	return f.bucketAs(t, auth, testID, testSecret, opts...)
}

func (f *fixture) bucketAs(t testing.TB, auth oss.AuthVersionType, id, secret string, opts ...oss.ClientOption) *oss.Bucket {
	t.Helper()
	opts = append([]oss.ClientOption{oss.AuthVersion(auth), oss.Region(DefaultRegion)}, opts...)
	c, err := oss.New(f.endpoint, id, secret, opts...)
	require.NoError(t, err)
	b, err := c.Bucket(testBucket)
	require.NoError(t, err)
	return b
}

var auths = map[string]oss.AuthVersionType{"v1": oss.AuthV1, "v4": oss.AuthV4}

func eachAuth(t *testing.T, fn func(t *testing.T, auth oss.AuthVersionType)) {
	for _, name := range []string{"v1", "v4"} {
		t.Run(name, func(t *testing.T) { fn(t, auths[name]) })
	}
}

// serviceError returns err's OSS error, failing the test if it has none.
func serviceError(t testing.TB, err error) oss.ServiceError {
	t.Helper()
	var se oss.ServiceError
	require.True(t, errors.As(err, &se), "want an oss.ServiceError, got %v", err)
	return se
}

func requireCode(t testing.TB, err error, status int, code string) {
	t.Helper()
	require.Error(t, err)
	se := serviceError(t, err)
	assert.Equal(t, status, se.StatusCode, "%v", err)
	assert.Equal(t, code, se.Code, "%v", err)
}

func payload(seed uint64, n int) []byte {
	p := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(p)
	return p
}

func crcOf(p []byte) uint64 { return crc64.Checksum(p, crc64.MakeTable(crc64.ECMA)) }

func etagOfBytes(p []byte) string {
	sum := md5.Sum(p)
	return `"` + strings.ToUpper(fmt.Sprintf("%x", sum)) + `"`
}

func TestObjectRoundTrip(t *testing.T) {
	f := start(t)
	eachAuth(t, func(t *testing.T, auth oss.AuthVersionType) {
		b := f.bucket(t, auth)
		key := "dir/sub dir/ünïcode+plus%x.bin"
		data := payload(1, 300_000)
		var hdr http.Header
		require.NoError(t, b.PutObject(key, bytes.NewReader(data), oss.GetResponseHeader(&hdr))) // the SDK checks the CRC
		assert.Equal(t, etagOfBytes(data), hdr.Get("ETag"), "ETag is the quoted upper-case MD5")
		assert.Equal(t, strconv.FormatUint(crcOf(data), 10), hdr.Get("X-Oss-Hash-Crc64ecma"))

		meta, err := b.GetObjectDetailedMeta(key)
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(len(data)), meta.Get("Content-Length"))
		assert.Equal(t, "Normal", meta.Get("X-Oss-Object-Type"))
		assert.Equal(t, etagOfBytes(data), meta.Get("ETag"))

		r, err := b.GetObject(key)
		require.NoError(t, err)
		got, err := io.ReadAll(r)
		r.Close()
		require.NoError(t, err)
		assert.Equal(t, data, got)

		require.NoError(t, b.DeleteObject(key))
		_, err = b.GetObject(key)
		requireCode(t, err, 404, "NoSuchKey")
		_, err = b.GetObjectDetailedMeta(key)
		se := serviceError(t, err)
		assert.Equal(t, 404, se.StatusCode)
		require.NoError(t, b.DeleteObject(key), "deleting a missing key is no error")
	})
}

func TestRangeReads(t *testing.T) {
	f := start(t)
	b := f.bucket(t, oss.AuthV4)
	data := payload(2, 1000)
	require.NoError(t, b.PutObject("r", bytes.NewReader(data)))
	read := func(opts ...oss.Option) ([]byte, http.Header, error) {
		var hdr http.Header
		r, err := b.GetObject("r", append(opts, oss.GetResponseHeader(&hdr))...)
		if err != nil {
			return nil, hdr, err
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		return got, hdr, err
	}
	got, hdr, err := read(oss.Range(10, 19))
	require.NoError(t, err)
	assert.Equal(t, data[10:20], got)
	assert.Equal(t, "bytes 10-19/1000", hdr.Get("Content-Range"))
	got, _, err = read(oss.NormalizedRange("990-"))
	require.NoError(t, err)
	assert.Equal(t, data[990:], got)
	got, _, err = read(oss.NormalizedRange("-5"))
	require.NoError(t, err)
	assert.Equal(t, data[995:], got)

	// OSS's default: an invalid range reads the whole object (200).
	for _, rg := range []string{"1000-", "500-2000", "1500-2000"} {
		got, hdr, err = read(oss.NormalizedRange(rg))
		require.NoError(t, err, rg)
		assert.Equal(t, data, got, rg)
		assert.Empty(t, hdr.Get("Content-Range"), rg)
	}
	// x-oss-range-behavior: standard cuts an end past the object and
	// refuses a start past it with 416 InvalidRange.
	std := oss.RangeBehavior("standard")
	got, _, err = read(oss.NormalizedRange("500-2000"), std)
	require.NoError(t, err)
	assert.Equal(t, data[500:], got)
	_, _, err = read(oss.NormalizedRange("1000-"), std)
	requireCode(t, err, 416, "InvalidRange")
}

func TestSignatureChecked(t *testing.T) {
	f := start(t)
	eachAuth(t, func(t *testing.T, auth oss.AuthVersionType) {
		wrong := f.bucketAs(t, auth, testID, "not-the-secret")
		err := wrong.PutObject("k", strings.NewReader("x"))
		requireCode(t, err, 403, "SignatureDoesNotMatch")
		assert.NotContains(t, err.Error(), testSecret)

		unknown := f.bucketAs(t, auth, "LTAInosuchkey", testSecret)
		_, err = unknown.GetObject("k")
		requireCode(t, err, 403, "InvalidAccessKeyId")

		ok := f.bucket(t, auth)
		_, err = ok.GetObject("k")
		requireCode(t, err, 404, "NoSuchKey") // nothing was written by the refused requests
	})
	t.Run("v4 wrong region", func(t *testing.T) {
		c, err := oss.New(f.endpoint, testID, testSecret, oss.AuthVersion(oss.AuthV4), oss.Region("us-west-1"))
		require.NoError(t, err)
		b, _ := c.Bucket(testBucket)
		_, err = b.GetObject("k")
		requireCode(t, err, 400, "InvalidArgument")
	})
	t.Run("anonymous", func(t *testing.T) {
		resp, err := http.Get(f.url + "/" + testBucket + "/k")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 403, resp.StatusCode)
	})
	t.Run("tampered body keeps its signature", func(t *testing.T) {
		// A signed header changed in flight breaks the signature.
		b := f.bucket(t, oss.AuthV1, oss.HTTPClient(&http.Client{Transport: rewrite{func(r *http.Request) {
			r.Header.Set("X-Oss-Forbid-Overwrite", "false")
		}}}))
		err := b.PutObject("k", strings.NewReader("x"), oss.ForbidOverWrite(true))
		requireCode(t, err, 403, "SignatureDoesNotMatch")
	})
}

// rewrite changes each request before sending it.
type rewrite struct{ fn func(*http.Request) }

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	rw.fn(r)
	return http.DefaultTransport.RoundTrip(r)
}

func TestClockSkew(t *testing.T) {
	f := start(t)
	eachAuth(t, func(t *testing.T, auth oss.AuthVersionType) {
		b := f.bucket(t, auth)
		f.skew.Store(int64(14 * time.Minute))
		require.NoError(t, b.PutObject("skew", strings.NewReader("x")), "14 minutes is within OSS's 15")
		f.skew.Store(int64(-16 * time.Minute))
		err := b.PutObject("skew", strings.NewReader("x"))
		requireCode(t, err, 403, "RequestTimeTooSkewed")
		f.skew.Store(0)
	})
}

func TestPresignedURL(t *testing.T) {
	f := start(t)
	data := payload(3, 5000)
	require.NoError(t, f.bucket(t, oss.AuthV1).PutObject("blobs/data", bytes.NewReader(data)))
	eachAuth(t, func(t *testing.T, auth oss.AuthVersionType) {
		b := f.bucket(t, auth)
		get, err := b.SignURL("blobs/data", oss.HTTPGet, 60)
		require.NoError(t, err)
		assert.NotContains(t, get, testSecret)
		resp, err := http.Get(get)
		require.NoError(t, err)
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, "%s", got)
		assert.Equal(t, data, got)

		head, err := b.SignURL("blobs/data", oss.HTTPHead, 60)
		require.NoError(t, err)
		resp, err = http.Head(head)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, "5000", resp.Header.Get("Content-Length"))
		resp, err = http.Head(get)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 403, resp.StatusCode, "a GET URL does not serve HEAD: the method is signed")

		other := strings.Replace(get, "data?", "datb?", 1)
		require.NotEqual(t, get, other)
		resp, err = http.Get(other)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 403, resp.StatusCode, "the key is signed")

		f.skew.Store(int64(61 * time.Second))
		resp, err = http.Get(get)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		f.skew.Store(0)
		assert.Equal(t, 403, resp.StatusCode)
		assert.Contains(t, string(body), "<Code>AccessDenied</Code>")
		assert.Contains(t, string(body), "expired")
	})
}

func TestConditionalHeadersRejectedOnPut(t *testing.T) {
	f := start(t)
	b := f.bucket(t, oss.AuthV4)
	for _, opt := range []oss.Option{oss.IfNoneMatch("*"), oss.IfMatch(`"ABC"`)} {
		err := b.PutObject("cond", strings.NewReader("x"), opt)
		requireCode(t, err, 400, "NotImplemented")
	}
	ok, err := b.IsObjectExist("cond")
	require.NoError(t, err)
	assert.False(t, ok, "a refused PUT writes nothing")
}

// TestForbidOverwriteRace: of N writers racing to create one key with
// x-oss-forbid-overwrite, exactly one wins and the others get 409
// FileAlreadyExists; the object holds the winner's bytes. PutObject,
// CopyObject and CompleteMultipartUpload alike.
func TestForbidOverwriteRace(t *testing.T) {
	f := start(t)
	b := f.bucket(t, oss.AuthV4)
	const writers = 12
	race := func(t *testing.T, key string, write func(i int) error) int {
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() { errs[i] = write(i) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "two winners: %d and %d", winner, i)
				winner = i
				continue
			}
			requireCode(t, err, 409, "FileAlreadyExists")
		}
		require.NotEqual(t, -1, winner, "no winner")
		return winner
	}
	for round := range 5 {
		t.Run(fmt.Sprintf("put-%d", round), func(t *testing.T) {
			key := fmt.Sprintf("race/put-%d", round)
			w := race(t, key, func(i int) error {
				return b.PutObject(key, bytes.NewReader(payload(uint64(i), 1000)), oss.ForbidOverWrite(true))
			})
			r, err := b.GetObject(key)
			require.NoError(t, err)
			got, _ := io.ReadAll(r)
			r.Close()
			assert.Equal(t, payload(uint64(w), 1000), got)
		})
	}
	t.Run("copy", func(t *testing.T) {
		for i := range writers {
			require.NoError(t, b.PutObject(fmt.Sprintf("race/src-%d", i), bytes.NewReader(payload(uint64(i), 100))))
		}
		w := race(t, "race/copy", func(i int) error {
			_, err := b.CopyObject(fmt.Sprintf("race/src-%d", i), "race/copy", oss.ForbidOverWrite(true))
			return err
		})
		r, err := b.GetObject("race/copy")
		require.NoError(t, err)
		got, _ := io.ReadAll(r)
		r.Close()
		assert.Equal(t, payload(uint64(w), 100), got)
	})
	t.Run("complete", func(t *testing.T) {
		imurs := make([]oss.InitiateMultipartUploadResult, writers)
		parts := make([]oss.UploadPart, writers)
		for i := range writers {
			var err error
			imurs[i], err = b.InitiateMultipartUpload("race/mp")
			require.NoError(t, err)
			parts[i], err = b.UploadPart(imurs[i], bytes.NewReader(payload(uint64(i), 10)), 10, 1)
			require.NoError(t, err)
		}
		w := race(t, "race/mp", func(i int) error {
			_, err := b.CompleteMultipartUpload(imurs[i], []oss.UploadPart{parts[i]}, oss.ForbidOverWrite(true))
			return err
		})
		r, err := b.GetObject("race/mp")
		require.NoError(t, err)
		got, _ := io.ReadAll(r)
		r.Close()
		assert.Equal(t, payload(uint64(w), 10), got)
	})
}

func TestAppend(t *testing.T) {
	f := start(t)
	b := f.bucket(t, oss.AuthV1)
	a, c := payload(4, 1234), payload(5, 777)
	next, err := b.AppendObject("app", bytes.NewReader(a), 0)
	require.NoError(t, err)
	assert.EqualValues(t, len(a), next)

	var hdr http.Header
	_, err = b.AppendObject("app", bytes.NewReader(c), 5, oss.GetResponseHeader(&hdr))
	requireCode(t, err, 409, "PositionNotEqualToLength")
	assert.Equal(t, "1234", hdr.Get("X-Oss-Next-Append-Position"))

	// With InitCRC the SDK checks the server's CRC of the whole object.
	next, err = b.AppendObject("app", bytes.NewReader(c), next, oss.InitCRC(crcOf(a)))
	require.NoError(t, err)
	assert.EqualValues(t, len(a)+len(c), next)
	r, err := b.GetObject("app")
	require.NoError(t, err)
	got, _ := io.ReadAll(r)
	r.Close()
	assert.Equal(t, append(append([]byte{}, a...), c...), got)
	meta, err := b.GetObjectDetailedMeta("app")
	require.NoError(t, err)
	assert.Equal(t, "Appendable", meta.Get("X-Oss-Object-Type"))
	assert.Equal(t, strconv.FormatUint(crcOf(got), 10), meta.Get("X-Oss-Hash-Crc64ecma"))

	_, err = b.AppendObject("fresh", bytes.NewReader(c), 3)
	requireCode(t, err, 409, "PositionNotEqualToLength")
	require.NoError(t, b.PutObject("normal", bytes.NewReader(c)))
	_, err = b.AppendObject("normal", bytes.NewReader(c), int64(len(c)))
	requireCode(t, err, 409, "ObjectNotAppendable")
}

func TestBucketOperations(t *testing.T) {
	f := start(t)
	c, err := oss.New(f.endpoint, testID, testSecret, oss.AuthVersion(oss.AuthV4), oss.Region(DefaultRegion))
	require.NoError(t, err)
	require.NoError(t, c.CreateBucket("berth-other"))
	requireCode(t, c.CreateBucket("berth-other"), 409, "BucketAlreadyExists")
	ok, err := c.IsBucketExist("berth-other")
	require.NoError(t, err)
	assert.True(t, ok)
	b, _ := c.Bucket("berth-other")
	require.NoError(t, b.PutObject("x", strings.NewReader("x")))
	requireCode(t, c.DeleteBucket("berth-other"), 409, "BucketNotEmpty")
	require.NoError(t, b.DeleteObject("x"))
	require.NoError(t, c.DeleteBucket("berth-other"))
	nb, _ := c.Bucket("berth-other")
	_, err = nb.GetObject("x")
	requireCode(t, err, 404, "NoSuchBucket")
}

// TestVirtualHost: <bucket>.<Domain> addresses the bucket, V1 and V4
// alike (the SDK signs the same resource either way).
func TestVirtualHost(t *testing.T) {
	f := start(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(f.url, "http://"))
	var hosts []string
	var mu sync.Mutex
	old := f.endpoint
	f.endpoint = "http://" + DefaultDomain + ":" + port
	defer func() { f.endpoint = old }()
	eachAuth(t, func(t *testing.T, auth oss.AuthVersionType) {
		b := f.bucket(t, auth, oss.HTTPClient(&http.Client{Transport: vhostTransport{port: port, seen: func(h string) {
			mu.Lock()
			hosts = append(hosts, h)
			mu.Unlock()
		}}}))
		require.NoError(t, b.PutObject("v/k", strings.NewReader("vhost")))
		r, err := b.GetObject("v/k")
		require.NoError(t, err)
		got, _ := io.ReadAll(r)
		r.Close()
		assert.Equal(t, "vhost", string(got))
	})
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, hosts)
	for _, h := range hosts {
		assert.Equal(t, testBucket+"."+DefaultDomain+":"+port, h)
	}
}

// vhostTransport dials 127.0.0.1 whatever the host name.
type vhostTransport struct {
	port string
	seen func(host string)
}

func (v vhostTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	v.seen(r.Host)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+v.port)
	}}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, err
}

func TestNoSecretInLog(t *testing.T) {
	f := start(t)
	b := f.bucket(t, oss.AuthV4)
	require.NoError(t, b.PutObject("log", strings.NewReader("x")))
	u, err := b.SignURL("log", oss.HTTPGet, 60)
	require.NoError(t, err)
	resp, err := http.Get(u)
	require.NoError(t, err)
	resp.Body.Close()
	f.bucketAs(t, oss.AuthV1, testID, "wrong").PutObject("log", strings.NewReader("x"))
	f.logMu.Lock()
	defer f.logMu.Unlock()
	require.NotEmpty(t, f.logs)
	for _, l := range f.logs {
		assert.NotContains(t, l, testSecret)
		assert.NotContains(t, l, "Signature=")
		assert.NotContains(t, l, "x-oss-signature=")
		assert.NotContains(t, l, testID)
	}
}

func httptestServer(t testing.TB, h http.Handler) string {
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL
}
