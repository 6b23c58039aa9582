package s3

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

// spy sits between the SDK and the real server: it records the size of
// every UploadPart request, and can fail the UploadPartCopy of one part
// number, as a server that breaks down mid-copy would.
type spy struct {
	inner        s3.HTTPClient
	mu           sync.Mutex
	partSizes    []int64
	failCopyPart string // partNumber whose UploadPartCopy fails with 500
}

func (s *spy) Do(r *http.Request) (*http.Response, error) {
	q := r.URL.Query()
	if r.Method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId") {
		if strings.Contains(r.URL.Path, "/.berth/probe/") {
			// the CommitMode probe's one-byte parts (stage.go)
		} else if r.Header.Get("X-Amz-Copy-Source") == "" {
			s.mu.Lock()
			s.partSizes = append(s.partSizes, r.ContentLength)
			s.mu.Unlock()
		} else if q.Get("partNumber") == s.failCopyPart {
			return &http.Response{StatusCode: 500, Status: "500 Internal Server Error", Request: r,
				Header: http.Header{"Content-Type": {"application/xml"}},
				Body:   io.NopCloser(strings.NewReader(`<Error><Code>InternalError</Code><Message>injected by the test</Message></Error>`)),
			}, nil
		}
	}
	return s.inner.Do(r)
}

// spied opens a store on bucket whose requests go through sp.
func spied(t *testing.T, cfg Config, sp *spy) *driver.Store {
	t.Helper()
	st, err := New(context.Background(), cfg)
	require.NoError(t, err)
	b := backendOf(t, st)
	b.client = s3.New(b.client.Options(), func(o *s3.Options) {
		sp.inner = o.HTTPClient
		o.HTTPClient = sp
	})
	return st
}

// TestF14EqualNonFinalParts covers F14 (stores such as R2 need equal part
// sizes): an upload written in odd chunks, closed and resumed on other
// instances between them, sends every part but the last at exactly the
// part size.
func TestF14EqualNonFinalParts(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		ctx := context.Background()
		bucket, _ := newBucket(t, s)
		cfg := s.config(bucket)
		cfg.PartSize, cfg.Concurrency = MinPartSize, 2
		sp := &spy{}
		data := bytes.Repeat([]byte("0123456789abcdef"), (3*int(MinPartSize)+int(MinPartSize)/3)/16)
		cuts := []int{0, 1, 1 << 20, 7<<20 + 3, 7<<20 + 4, 16<<20 + 11, len(data)}
		for i := 0; i+1 < len(cuts); i++ {
			w, err := spied(t, cfg, sp).Writer(ctx, "/up/data", i > 0)
			require.NoError(t, err)
			require.EqualValues(t, cuts[i], w.Size())
			_, err = w.Write(data[cuts[i]:cuts[i+1]])
			require.NoError(t, err)
			require.NoError(t, w.Close())
		}
		w, err := spied(t, cfg, sp).Writer(ctx, "/up/data", true)
		require.NoError(t, err)
		require.NoError(t, w.Commit(ctx))

		got, err := spied(t, cfg, sp).GetContent(ctx, "/up/data")
		require.NoError(t, err)
		assert.True(t, bytes.Equal(got, data), "content differs")
		require.Len(t, sp.partSizes, 4, "parts sent: %v", sp.partSizes)
		for i, n := range sp.partSizes[:3] {
			assert.Equal(t, MinPartSize, n, "part %d of %v", i, sp.partSizes)
		}
		assert.Less(t, sp.partSizes[3], MinPartSize)
	})
}

// TestF16FailedMoveAbortsItsCopy covers F16 (leaked multipart uploads): a
// Move above the copy threshold whose UploadPartCopy fails leaves no
// multipart upload behind, the source intact and the destination absent.
func TestF16FailedMoveAbortsItsCopy(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		ctx := context.Background()
		bucket, raw := newBucket(t, s)
		cfg := s.config(bucket)
		cfg.CopyThreshold, cfg.CopyPartSize, cfg.CopyConcurrency = MinPartSize, MinPartSize, 2
		sp := &spy{failCopyPart: "2"}
		st := spied(t, cfg, sp)
		data := bytes.Repeat([]byte{7}, 2*int(MinPartSize)+100)
		require.NoError(t, st.PutContent(ctx, "/src", data))

		err := st.Move(ctx, "/src", "/dst")
		require.Error(t, err)
		ups, err := raw.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
		require.NoError(t, err)
		assert.Empty(t, ups.Uploads, "multipart uploads left by the failed Move")
		_, err = st.Stat(ctx, "/dst")
		assert.ErrorIs(t, err, driver.ErrNotFound)
		got, err := st.GetContent(ctx, "/src")
		require.NoError(t, err)
		assert.Len(t, got, len(data))
		claims, err := raw.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String(".berth/")})
		require.NoError(t, err)
		assert.Empty(t, claims.Contents, "the move claim was left")

		sp.failCopyPart = ""
		require.NoError(t, st.Move(ctx, "/src", "/dst"), "the same Move, with the server well again")
		got, err = st.GetContent(ctx, "/dst")
		require.NoError(t, err)
		assert.True(t, bytes.Equal(got, data))
	})
}
