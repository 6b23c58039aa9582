package s3

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

// wantStaged is what the CommitMode probe finds on each server: MinIO
// completes an upload with some of its parts, RGW 16.2 refuses
// (InvalidPart).
var wantStaged = map[string]bool{"minio": false, "rgw": true}

// leftovers lists the driver's state objects and the multipart uploads in
// the bucket (the test's own).
func leftovers(t *testing.T, raw *s3.Client, bucket string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	objs, err := raw.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String(".berth/")})
	require.NoError(t, err)
	for _, o := range objs.Contents {
		out = append(out, aws.ToString(o.Key))
	}
	ups, err := raw.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	require.NoError(t, err)
	for _, u := range ups.Uploads {
		out = append(out, "multipart upload of "+aws.ToString(u.Key))
	}
	return out
}

func TestCommitModeProbe(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		ctx := context.Background()
		bucket, raw := newBucket(t, s)
		st, err := New(ctx, s.config(bucket))
		require.NoError(t, err)
		b := backendOf(t, st)
		assert.True(t, b.mayStage(), "not probed yet: unknown")
		staged, err := b.stagedMode(ctx)
		require.NoError(t, err)
		assert.Equal(t, wantStaged[s.name], staged)
		assert.Equal(t, wantStaged[s.name], b.mayStage())
		assert.Empty(t, leftovers(t, raw, bucket), "the probe left something")

		for mode, want := range map[string]bool{CommitDirect: false, CommitStaged: true} {
			cfg := s.config(bucket)
			cfg.CommitMode = mode
			st, err := New(ctx, cfg)
			require.NoError(t, err)
			got, err := backendOf(t, st).stagedMode(ctx)
			require.NoError(t, err)
			assert.Equal(t, want, got, mode)
		}
	})
}

// strayUpload writes an upload at p whose multipart upload holds parts
// that no record names, as sessions killed with parts in flight leave
// them: a full part after a Close, and a short last part of a Commit
// killed before it sealed. Each session is a fresh instance; a killed
// session's part is sent as the session would have sent it, at the first
// number of its reservation. It returns the bytes recorded.
func strayUpload(t *testing.T, cfg Config, p string) []byte {
	ctx := context.Background()
	ps := int(MinPartSize)
	recorded := bytes.Repeat([]byte("recorded"), (2*ps+1000)/8)
	st, err := New(ctx, cfg)
	require.NoError(t, err)
	b := backendOf(t, st)
	// killed opens a session on a fresh instance and sends data as its
	// first part, as a session killed before its Close leaves it.
	killed := func(data []byte) {
		h, err := b.uploads.Slot(p).Latest(ctx)
		require.NoError(t, err)
		n := max(h.Rec.Reserved, 1)
		for _, pt := range h.Rec.Parts {
			n = max(n, pt.N+1)
		}
		w := rawWriter(t, cfg, p, true)
		require.EqualValues(t, len(recorded), w.Size())
		_, err = b.uploadPart(ctx, b.uploads.Slot(p).MPKey(h.Rec), h.Rec.UploadID, n, data)
		require.NoError(t, err)
	}

	// Session 1: two parts and a tail, closed.
	w := rawWriter(t, cfg, p, false)
	_, err = w.Write(recorded)
	require.NoError(t, err)
	require.NoError(t, w.Close())

	// Session 2: resumes, fills a part (the tail read back, then new
	// bytes), sends it and is killed before Close.
	tail := recorded[2*ps:]
	killed(append(bytes.Clone(tail), bytes.Repeat([]byte("STRAY-1!"), ps/8)...)[:ps])

	// Session 3: resumes and, as Commit does before it seals, sends its
	// buffer (the tail read back plus a few bytes) as a short part; killed.
	killed(append(bytes.Clone(tail), "STRAY-2!"...))
	return recorded
}

// rawWriter opens the driver's own writer on a fresh instance.
func rawWriter(t *testing.T, cfg Config, p string, append bool) driver.FileWriter {
	t.Helper()
	st, err := New(context.Background(), cfg)
	require.NoError(t, err)
	w, err := backendOf(t, st).Writer(context.Background(), p, append)
	require.NoError(t, err)
	return w
}

// TestCommitWithStrayParts: parts left in the pinned multipart upload by
// killed sessions never reach the committed object, on either server, in
// every commit mode the server supports; nothing is left behind.
func TestCommitWithStrayParts(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		modes := []string{CommitAuto, CommitStaged}
		if s.name == "minio" {
			modes = append(modes, CommitDirect)
		}
		for _, mode := range modes {
			t.Run(mode, func(t *testing.T) {
				ctx := context.Background()
				bucket, raw := newBucket(t, s)
				cfg := s.config(bucket)
				cfg.PartSize, cfg.Concurrency, cfg.CommitMode = MinPartSize, 2, mode
				recorded := strayUpload(t, cfg, "/a/blob")

				st, err := New(ctx, cfg)
				require.NoError(t, err)
				sl := backendOf(t, st).uploads.Slot("/a/blob")
				h, err := sl.Latest(ctx)
				require.NoError(t, err)
				staged := mode == CommitStaged || mode == CommitAuto && wantStaged[s.name]
				assert.Equal(t, staged, h.Rec.Stage != "", "record: %+v", h.Rec)
				server, err := backendOf(t, st).serverParts(ctx, sl.MPKey(h.Rec), h.Rec.UploadID)
				require.NoError(t, err)
				require.Len(t, server, len(h.Rec.Parts)+2, "the server holds two stray parts")

				w, err := st.Writer(ctx, "/a/blob", true)
				require.NoError(t, err)
				require.EqualValues(t, len(recorded), w.Size())
				more := bytes.Repeat([]byte("more"), int(MinPartSize)/4+31)
				_, err = w.Write(more)
				require.NoError(t, err)
				require.NoError(t, w.Commit(ctx))

				st2, err := New(ctx, cfg)
				require.NoError(t, err)
				got, err := st2.GetContent(ctx, "/a/blob")
				require.NoError(t, err)
				want := append(bytes.Clone(recorded), more...)
				assert.Equal(t, len(want), len(got))
				assert.True(t, bytes.Equal(want, got), "committed bytes differ from the recorded ones")
				assert.Empty(t, leftovers(t, raw, bucket))
			})
		}
	})
}

// TestDirectCommitWithStraysFailsOnRGW documents why staging exists: RGW
// refuses a completion that leaves a stray part out.
func TestDirectCommitWithStraysFailsOnRGW(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		if s.name != "rgw" {
			t.Skip("RGW only")
		}
		ctx := context.Background()
		bucket, _ := newBucket(t, s)
		cfg := s.config(bucket)
		cfg.PartSize, cfg.Concurrency, cfg.CommitMode = MinPartSize, 2, CommitDirect
		strayUpload(t, cfg, "/blob")
		st, err := New(ctx, cfg)
		require.NoError(t, err)
		w, err := st.Writer(ctx, "/blob", true)
		require.NoError(t, err)
		err = w.Commit(ctx)
		require.Error(t, err)
		assert.Equal(t, "InvalidPart", errorCode(err))
		require.NoError(t, st.Delete(ctx, "/blob"))
	})
}

// TestStagedCommitKilledAfterCompletion: a Commit killed between the
// completion at the staging key and the copy leaves the staging object in
// the sealed slot; Sweep removes it, Delete removes the rest, and the
// path never shows any of it.
func TestStagedCommitKilledAfterCompletion(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		for _, reclaim := range []string{"Sweep", "Delete"} {
			t.Run(reclaim, func(t *testing.T) {
				ctx := context.Background()
				bucket, raw := newBucket(t, s)
				cfg := s.config(bucket)
				cfg.PartSize, cfg.Concurrency, cfg.CommitMode = MinPartSize, 2, CommitStaged
				strayUpload(t, cfg, "/c/blob")

				st, err := New(ctx, cfg)
				require.NoError(t, err)
				// The server fails the first part of the copy to the path
				// for good: the Commit stops where a kill would leave it,
				// after the completion at the staging key.
				w, err := spied(t, cfg, &spy{failCopyPart: "1"}).Writer(ctx, "/c/blob", true)
				require.NoError(t, err)
				require.Error(t, w.Commit(ctx))
				h, err := backendOf(t, st).uploads.Slot("/c/blob").Latest(ctx)
				require.NoError(t, err)
				require.True(t, h.Sealed, "the Commit sealed the upload")
				rec := h.Rec

				_, err = st.Stat(ctx, "/c/blob")
				assert.ErrorIs(t, err, driver.ErrNotFound, "the path shows the staged object")
				_, err = raw.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(rec.Stage)})
				require.NoError(t, err, "the staging object")
				if reclaim == "Sweep" {
					require.NoError(t, st.Sweep(ctx, 0))
					_, err = raw.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(rec.Stage)})
					assert.True(t, isNotFound(err), "Sweep left the staging object: %v", err)
				}
				err = st.Delete(ctx, "/c/blob")
				require.NoError(t, err)
				assert.Empty(t, leftovers(t, raw, bucket))
			})
		}
	})
}

// TestSweepStagedLeftovers: Sweep aborts a staged multipart upload whose
// creator was killed before it recorded it, and a probe killed midway.
func TestSweepStagedLeftovers(t *testing.T) {
	eachServer(t, func(t *testing.T, s server) {
		ctx := context.Background()
		bucket, raw := newBucket(t, s)
		cfg := s.config(bucket)
		cfg.CommitMode = CommitStaged
		st, err := New(ctx, cfg)
		require.NoError(t, err)
		b := backendOf(t, st)
		w, err := st.Writer(ctx, "/d/blob", false)
		require.NoError(t, err)
		_, err = w.Write([]byte("small"))
		require.NoError(t, err)
		require.NoError(t, w.Close())
		sl := b.uploads.Slot("/d/blob")
		h, err := sl.Latest(ctx)
		require.NoError(t, err)
		for _, key := range []string{sl.StageKey(h.Rec.Upload), b.probePrefix() + "commit.x"} {
			_, err := raw.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String(key)})
			require.NoError(t, err)
		}
		require.NoError(t, st.Sweep(ctx, 0))
		ups, err := raw.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
		require.NoError(t, err)
		assert.Empty(t, ups.Uploads)
		// The upload in progress is intact.
		w, err = st.Writer(ctx, "/d/blob", true)
		require.NoError(t, err)
		require.EqualValues(t, 5, w.Size())
		require.NoError(t, w.Commit(ctx))
		got, err := st.GetContent(ctx, "/d/blob")
		require.NoError(t, err)
		assert.Equal(t, "small", string(got))
		assert.Empty(t, leftovers(t, raw, bucket))
	})
}
