package ossserver

import (
	"bytes"
	"fmt"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readAll(t testing.TB, b *oss.Bucket, key string) []byte {
	t.Helper()
	r, err := b.GetObject(key)
	require.NoError(t, err)
	defer r.Close()
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	return got
}

func TestMultipart(t *testing.T) {
	f := start(t)
	eachAuth(t, func(t *testing.T, auth oss.AuthVersionType) {
		b := f.bucket(t, auth)
		key := "mp/layer " + t.Name()
		p1, p2, p3 := payload(10, DefaultMinPartSize), payload(11, DefaultMinPartSize+1), payload(12, 10)
		imur, err := b.InitiateMultipartUpload(key)
		require.NoError(t, err)
		assert.Equal(t, key, imur.Key)
		up := func(n int, p []byte) oss.UploadPart {
			part, err := b.UploadPart(imur, bytes.NewReader(p), int64(len(p)), n) // the SDK checks the part's CRC
			require.NoError(t, err)
			return part
		}
		u3 := up(3, p3)
		u1 := up(1, payload(99, 50)) // replaced below: the last upload of a number wins
		_, err = b.CompleteMultipartUpload(imur, []oss.UploadPart{u1, u3})
		requireCode(t, err, 400, "EntityTooSmall") // 50 bytes is not the last part
		u1b := up(1, p1)
		_, err = b.CompleteMultipartUpload(imur, []oss.UploadPart{u1, u3})
		requireCode(t, err, 400, "InvalidPart") // u1's ETag is the replaced part's
		u2 := up(2, p2)
		// The SDK sorts the parts it completes: an unsorted list goes raw.
		doc := fmt.Sprintf("<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part>"+
			"<Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>", u2.ETag, u1b.ETag)
		_, err = b.Client.Conn.Do("POST", testBucket, key, map[string]any{"uploadId": imur.UploadID}, nil,
			strings.NewReader(doc), 0, nil)
		requireCode(t, err, 400, "InvalidPartOrder")
		_, err = b.UploadPart(imur, bytes.NewReader(p3), 10, DefaultMaxParts+1)
		requireCode(t, err, 400, "InvalidArgument")

		// ListParts, two per page.
		var listed []int
		marker := 0
		for {
			lp, err := b.ListUploadedParts(imur, oss.MaxParts(2), oss.PartNumberMarker(marker))
			require.NoError(t, err)
			for _, p := range lp.UploadedParts {
				listed = append(listed, p.PartNumber)
			}
			if !lp.IsTruncated {
				break
			}
			marker, _ = strconv.Atoi(lp.NextPartNumberMarker)
		}
		assert.Equal(t, []int{1, 2, 3}, listed)

		var hdr http.Header
		res, err := b.CompleteMultipartUpload(imur, []oss.UploadPart{u1b, u2, u3}, oss.GetResponseHeader(&hdr))
		require.NoError(t, err)
		all := slices.Concat(p1, p2, p3)
		assert.True(t, strings.HasSuffix(res.ETag, `-3"`), "multipart ETag %s", res.ETag)
		assert.Equal(t, strconv.FormatUint(crcOf(all), 10), hdr.Get("X-Oss-Hash-Crc64ecma"), "combined CRC")
		assert.Equal(t, all, readAll(t, b, key))
		meta, err := b.GetObjectDetailedMeta(key)
		require.NoError(t, err)
		assert.Equal(t, "Multipart", meta.Get("X-Oss-Object-Type"))

		_, err = b.UploadPart(imur, bytes.NewReader(p3), 10, 1)
		requireCode(t, err, 404, "NoSuchUpload")
		assert.Empty(t, f.srv.Uploads(testBucket))
	})
}

func TestUploadPartCopyAndAbort(t *testing.T) {
	f := start(t)
	b := f.bucket(t, oss.AuthV4)
	src := payload(20, 3*DefaultMinPartSize+7)
	require.NoError(t, b.PutObject("src", bytes.NewReader(src)))
	var hdr http.Header
	require.NoError(t, b.PutObject("src", bytes.NewReader(src), oss.GetResponseHeader(&hdr)))
	etag := hdr.Get("ETag")

	imur, err := b.InitiateMultipartUpload("dst")
	require.NoError(t, err)
	ps := int64(DefaultMinPartSize)
	var parts []oss.UploadPart
	for i, off := 0, int64(0); off < int64(len(src)); i, off = i+1, off+ps {
		n := min(ps, int64(len(src))-off)
		p, err := b.UploadPartCopy(imur, testBucket, "src", off, n, i+1, oss.CopySourceIfMatch(etag))
		require.NoError(t, err)
		parts = append(parts, p)
	}
	_, err = b.UploadPartCopy(imur, testBucket, "src", 0, ps, 9, oss.CopySourceIfMatch(`"0123"`))
	requireCode(t, err, 412, "PreconditionFailed")
	_, err = b.UploadPartCopy(imur, testBucket, "missing", 0, ps, 9)
	requireCode(t, err, 404, "NoSuchKey")
	_, err = b.UploadPartCopy(imur, testBucket, "src", int64(len(src)), 10, 9)
	requireCode(t, err, 400, "InvalidArgument")
	_, err = b.CompleteMultipartUpload(imur, parts)
	require.NoError(t, err)
	assert.Equal(t, src, readAll(t, b, "dst"))

	// Abort removes the upload: its parts are gone and its id unknown.
	imur, err = b.InitiateMultipartUpload("aborted")
	require.NoError(t, err)
	_, err = b.UploadPart(imur, bytes.NewReader(src[:100]), 100, 1)
	require.NoError(t, err)
	require.NoError(t, b.AbortMultipartUpload(imur))
	requireCode(t, b.AbortMultipartUpload(imur), 404, "NoSuchUpload")
	_, err = b.ListUploadedParts(imur)
	requireCode(t, err, 404, "NoSuchUpload")
	ok, err := b.IsObjectExist("aborted")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestCopyObject(t *testing.T) {
	f := start(t, func(c *Config) { c.MaxCopySize = 1000 })
	b := f.bucket(t, oss.AuthV1)
	data := payload(30, 1000)
	require.NoError(t, b.PutObject("a b+c", bytes.NewReader(data)))
	res, err := b.CopyObject("a b+c", "copy")
	require.NoError(t, err)
	assert.Equal(t, etagOfBytes(data), res.ETag)
	assert.Equal(t, data, readAll(t, b, "copy"))
	_, err = b.CopyObject("a b+c", "copy2", oss.CopySourceIfMatch(`"FFFF"`))
	requireCode(t, err, 412, "PreconditionFailed")
	_, err = b.CopyObject("nothing", "copy2")
	requireCode(t, err, 404, "NoSuchKey")
	_, err = b.CopyObject("a b+c", "copy", oss.ForbidOverWrite(true))
	requireCode(t, err, 409, "FileAlreadyExists")
	require.NoError(t, b.PutObject("big", bytes.NewReader(payload(31, 1001))))
	_, err = b.CopyObject("big", "copy3")
	requireCode(t, err, 400, "InvalidArgument") // above CopyObject's limit

	// The copy shares no fate with its source.
	require.NoError(t, b.DeleteObject("a b+c"))
	assert.Equal(t, data, readAll(t, b, "copy"))
}

func TestListPagination(t *testing.T) {
	f := start(t)
	b := f.bucket(t, oss.AuthV4)
	var keys []string
	for i := range 23 {
		keys = append(keys, fmt.Sprintf("l/d%d/f", i%5), fmt.Sprintf("l/f%02d", i), fmt.Sprintf("l/f%02d+x y", i))
	}
	keys = append(keys, "l", "l-sibling", "m/x")
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for _, k := range keys {
		require.NoError(t, b.PutObject(k, strings.NewReader(k)))
	}

	t.Run("v1 flat", func(t *testing.T) {
		var got []string
		marker := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 100)
			res, err := b.ListObjects(oss.Prefix("l/"), oss.Marker(marker), oss.MaxKeys(7))
			require.NoError(t, err)
			for _, o := range res.Objects {
				got = append(got, o.Key)
			}
			if !res.IsTruncated {
				break
			}
			marker = res.NextMarker
		}
		var want []string
		for _, k := range keys {
			if strings.HasPrefix(k, "l/") {
				want = append(want, k)
			}
		}
		assert.Equal(t, want, got)
	})
	t.Run("v2 delimited", func(t *testing.T) {
		var got, dirs []string
		token := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 100)
			opts := []oss.Option{oss.Prefix("l/"), oss.Delimiter("/"), oss.MaxKeys(4)}
			if token != "" {
				opts = append(opts, oss.ContinuationToken(token))
			}
			res, err := b.ListObjectsV2(opts...)
			require.NoError(t, err)
			for _, o := range res.Objects {
				got = append(got, o.Key)
			}
			dirs = append(dirs, res.CommonPrefixes...)
			if !res.IsTruncated {
				break
			}
			token = res.NextContinuationToken
		}
		assert.Equal(t, []string{"l/d0/", "l/d1/", "l/d2/", "l/d3/", "l/d4/"}, dirs)
		assert.Len(t, got, 46)
		assert.True(t, slices.IsSorted(got))
		assert.Contains(t, got, "l/f07+x y")
	})
	t.Run("v2 start-after", func(t *testing.T) {
		res, err := b.ListObjectsV2(oss.StartAfter("l/f22+x y"), oss.MaxKeys(10))
		require.NoError(t, err)
		var got []string
		for _, o := range res.Objects {
			got = append(got, o.Key)
		}
		assert.Equal(t, []string{"m/x"}, got) // '-' sorts before '/': l-sibling came before
	})

	t.Run("delete multiple", func(t *testing.T) {
		res, err := b.DeleteObjects(append(slices.Clone(keys[:10]), "never-there"))
		require.NoError(t, err)
		assert.Len(t, res.DeletedObjects, 11)
		assert.Contains(t, res.DeletedObjects, keys[3])
		lr, err := b.ListObjectsV2(oss.MaxKeys(1000))
		require.NoError(t, err)
		assert.Len(t, lr.Objects, len(keys)-10)
	})
}

func TestListMultipartUploads(t *testing.T) {
	f := start(t)
	b := f.bucket(t, oss.AuthV1)
	var ids []string
	for _, k := range []string{"u/a", "u/a", "u/b/c", "u/b/d", "v"} {
		imur, err := b.InitiateMultipartUpload(k)
		require.NoError(t, err)
		ids = append(ids, imur.UploadID)
	}
	var got []string
	km, im := "", ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		res, err := b.ListMultipartUploads(oss.Prefix("u/"), oss.MaxUploads(1), oss.KeyMarker(km), oss.UploadIDMarker(im))
		require.NoError(t, err)
		for _, u := range res.Uploads {
			got = append(got, u.Key)
		}
		if !res.IsTruncated {
			break
		}
		km, im = res.NextKeyMarker, res.NextUploadIDMarker
	}
	assert.Equal(t, []string{"u/a", "u/a", "u/b/c", "u/b/d"}, got, "a real prefix, same-key uploads each once")
	res, err := b.ListMultipartUploads(oss.Prefix("u/"), oss.Delimiter("/"))
	require.NoError(t, err)
	assert.Equal(t, []string{"u/b/"}, res.CommonPrefixes)
	assert.Len(t, res.Uploads, 2)
}

// TestRestart: a new server on the same directory serves what the old one
// stored, objects and uploads in progress alike.
func TestRestart(t *testing.T) {
	f := start(t)
	b := f.bucket(t, oss.AuthV4)
	data := payload(40, 2*DefaultMinPartSize)
	require.NoError(t, b.PutObject("keep", bytes.NewReader(data)))
	imur, err := b.InitiateMultipartUpload("pending")
	require.NoError(t, err)
	p1, err := b.UploadPart(imur, bytes.NewReader(data[:DefaultMinPartSize]), DefaultMinPartSize, 1)
	require.NoError(t, err)

	srv2, err := New(f.srv.cfg)
	require.NoError(t, err)
	f2 := &fixture{srv: srv2}
	hs := httptestServer(t, srv2)
	f2.url, f2.endpoint = hs, hs
	b2 := f2.bucket(t, oss.AuthV4)
	assert.Equal(t, data, readAll(t, b2, "keep"))
	p2, err := b2.UploadPart(imur, bytes.NewReader(data[DefaultMinPartSize:]), DefaultMinPartSize, 2)
	require.NoError(t, err)
	_, err = b2.CompleteMultipartUpload(imur, []oss.UploadPart{p1, p2})
	require.NoError(t, err)
	assert.Equal(t, data, readAll(t, b2, "pending"))
}

func TestCRCCombine(t *testing.T) {
	tab := crc64.MakeTable(crc64.ECMA)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		a, c := make([]byte, rng.IntN(5000)), make([]byte, rng.IntN(5000))
		for i := range a {
			a[i] = byte(rng.Uint32())
		}
		for i := range c {
			c[i] = byte(rng.Uint32())
		}
		want := crc64.Checksum(slices.Concat(a, c), tab)
		assert.Equal(t, want, crcCombine(crc64.Checksum(a, tab), crc64.Checksum(c, tab), int64(len(c))))
	}
	// The SDK's own combination agrees.
	a, c := payload(1, 777), payload(2, 333)
	assert.Equal(t, oss.CRC64Combine(crcOf(a), crcOf(c), 333), crcCombine(crcOf(a), crcOf(c), 333))
}

// TestCRCCheckedBySDK: the SDK really checks x-oss-hash-crc64ecma (a
// changed header fails the upload), and accepts the server's values for a
// PUT, a part, and the combined CRC of a multipart object on download.
func TestCRCCheckedBySDK(t *testing.T) {
	f := start(t)
	bad := f.bucket(t, oss.AuthV4, oss.HTTPClient(&http.Client{Transport: crcFlipper{}}))
	err := bad.PutObject("crc", bytes.NewReader(payload(50, 1000)))
	var ce oss.CRCCheckError
	require.ErrorAs(t, err, &ce, "a wrong CRC must fail the SDK's check")

	b := f.bucket(t, oss.AuthV4)
	p1, p2 := payload(51, DefaultMinPartSize), payload(52, 333)
	imur, err := b.InitiateMultipartUpload("crc-mp")
	require.NoError(t, err)
	u1, err := b.UploadPart(imur, bytes.NewReader(p1), int64(len(p1)), 1)
	require.NoError(t, err)
	u2, err := b.UploadPart(imur, bytes.NewReader(p2), int64(len(p2)), 2)
	require.NoError(t, err)
	_, err = b.CompleteMultipartUpload(imur, []oss.UploadPart{u1, u2})
	require.NoError(t, err)
	file := t.TempDir() + "/crc-mp"
	require.NoError(t, b.GetObjectToFile("crc-mp", file), "GetObjectToFile compares the whole object's CRC")
}

// crcFlipper changes the CRC the server answers.
type crcFlipper struct{}

func (crcFlipper) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && resp.Header.Get("X-Oss-Hash-Crc64ecma") != "" {
		n, _ := strconv.ParseUint(resp.Header.Get("X-Oss-Hash-Crc64ecma"), 10, 64)
		resp.Header.Set("X-Oss-Hash-Crc64ecma", strconv.FormatUint(n^1, 10))
	}
	return resp, err
}
