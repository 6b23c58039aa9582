package multipart

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

func write(t *testing.T, w driver.FileWriter, s string) {
	t.Helper()
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
}

func content(t *testing.T, f *fake, key string) string {
	t.Helper()
	r, _, err := f.Get(context.Background(), key)
	require.NoError(t, err)
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}

// TestF7ResumeOnAnotherInstance covers F7 and CONTRACT 3: a Close on one
// instance is a durable checkpoint that another instance resumes, the
// short tail read back and grown into full parts (F14).
func TestF7ResumeOnAnotherInstance(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	w, err := instance(f).Writer(ctx, "/up", false)
	require.NoError(t, err)
	write(t, w, "0123456789abc") // one part of 8, a tail of 5
	require.NoError(t, w.Close())

	w, err = instance(f).Writer(ctx, "/up", true)
	require.NoError(t, err)
	assert.EqualValues(t, 13, w.Size())
	write(t, w, "defghijklmnop")
	require.NoError(t, w.Commit(ctx))
	assert.Equal(t, "0123456789abcdefghijklmnop", content(t, f, "root/up"))
	assert.Empty(t, f.keys("root/.berth/"), "upload state left")
	assert.Empty(t, f.uploads, "multipart uploads left")
}

// A resume that finds the tail its record names gone lost a race with a
// session that took the upload over right after it opened (CONTRACT 5):
// ErrConflict, not "no upload in progress" (seen in the conformance race
// C5_Fencing/ConcurrentResumeAndClose on oss).
func TestResumeWhoseTailVanishedIsConflict(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	w, err := instance(f).Writer(ctx, "/up", false)
	require.NoError(t, err)
	write(t, w, "0123456789abc") // one part of 8, a tail of 5
	require.NoError(t, w.Close())
	f.mu.Lock()
	for k := range f.objects {
		if strings.Contains(k, "/tail.") {
			delete(f.objects, k)
		}
	}
	f.mu.Unlock()
	_, err = instance(f).Writer(ctx, "/up", true)
	assert.ErrorIs(t, err, driver.ErrConflict)
}

// TestFencingStaleWriter covers CONTRACT 5 (fencing): a writer that
// another session took over gets ErrConflict at its next part, Close and
// Commit, and the committed bytes are the new owner's alone.
func TestFencingStaleWriter(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	a, err := instance(f).Writer(ctx, "/up", false)
	require.NoError(t, err)
	write(t, a, "AAAAAAAA") // a part: the multipart upload exists
	require.NoError(t, a.Close())
	a, err = instance(f).Writer(ctx, "/up", true)
	require.NoError(t, err)

	b, err := instance(f).Writer(ctx, "/up", true)
	require.NoError(t, err)
	write(t, b, "BBB")
	require.NoError(t, b.Close())

	write(t, a, "aaa")
	assert.ErrorIs(t, a.Close(), driver.ErrConflict)
	assert.ErrorIs(t, a.Commit(ctx), driver.ErrConflict)

	b, err = instance(f).Writer(ctx, "/up", true)
	require.NoError(t, err)
	require.NoError(t, b.Commit(ctx))
	assert.Equal(t, "AAAAAAAABBB", content(t, f, "root/up"))
}

// TestF5CreateAnswerLost covers F5: a record create whose answer is lost
// after the store wrote it is read back and counted as won, while one
// that failed before writing stays an error.
func TestF5CreateAnswerLost(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	u := instance(f)
	for _, after := range []bool{true, false} {
		key := "root/k" + map[bool]string{true: "1", false: "2"}[after]
		f.fail = func(op, k string) (error, bool) {
			if op == "Create" && k == key {
				return errFakeServer, after
			}
			return nil, false
		}
		won, _, err := u.PutIfAbsent(ctx, key, []byte("body"))
		if after {
			require.NoError(t, err)
			assert.True(t, won, "our own write, answer lost")
		} else {
			assert.ErrorIs(t, err, errFakeServer)
		}
	}
	f.fail = nil
	won, _, err := u.PutIfAbsent(ctx, "root/k1", []byte("other"))
	require.NoError(t, err)
	assert.False(t, won, "someone else's object")
}

// TestDeleteSealsUploads covers CONTRACT 8 and F16: Delete of a directory
// removes a closed upload below it with its multipart upload, never a
// sibling sharing the prefix, and the writer holding the upload gets
// ErrConflict instead of bringing the data back.
func TestDeleteSealsUploads(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	u := instance(f)
	w, err := u.Writer(ctx, "/d/up", false)
	require.NoError(t, err)
	write(t, w, "0123456789") // a part and a tail
	require.NoError(t, w.Close())
	require.NotEmpty(t, f.uploads)
	small, err := u.Writer(ctx, "/d/small", false)
	require.NoError(t, err)
	write(t, small, "0123")
	require.NoError(t, small.Close())
	require.NoError(t, f.Put(ctx, "root/dd", []byte("sibling")))

	require.NoError(t, instance(f).Delete(ctx, "/d"))
	assert.Empty(t, f.uploads)
	assert.Equal(t, []string{"root/dd"}, f.keys("root/"))
	assert.ErrorIs(t, small.Commit(ctx), driver.ErrConflict)
	assert.Equal(t, []string{"root/dd"}, f.keys("root/"), "the deleted upload came back")
	_, err = u.Writer(ctx, "/d/up", true)
	assert.ErrorIs(t, err, driver.ErrNotFound)
	assert.ErrorIs(t, u.Delete(ctx, "/d"), driver.ErrNotFound)
}

// TestF2MoveClaim covers F2: of two instances moving one source, the one
// without the claim gets ErrNotFound and copies nothing; the claim goes
// with the Move.
func TestF2MoveClaim(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	require.NoError(t, f.Put(ctx, "root/src", []byte("data")))
	copyFn := func(ctx context.Context, src, dst string, o Object) error {
		r, _, err := f.Get(ctx, src)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(r)
		if etagOf(b) != o.ETag {
			return errFakeFailed
		}
		return f.Put(ctx, dst, b)
	}
	loser := func(ctx context.Context, src, dst string, o Object) error {
		err := instance(f).Move(ctx, "/src", "/dst", copyFn)
		assert.ErrorIs(t, err, driver.ErrNotFound, "the second mover")
		return copyFn(ctx, src, dst, o)
	}
	require.NoError(t, instance(f).Move(ctx, "/src", "/dst", loser))
	assert.Equal(t, "data", content(t, f, "root/dst"))
	assert.Equal(t, []string{"root/dst"}, f.keys("root/"), "source and claim gone")
	err := instance(f).Move(ctx, "/src", "/dst", copyFn)
	assert.True(t, f.IsNotFound(err), "%v", err)
}

// TestCopyRangesAbortsOnFailure covers F16 and F14: a multipart copy
// whose part fails aborts its upload; Ranges makes equal parts but the
// last.
func TestCopyRangesAbortsOnFailure(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	u := instance(f)
	ranges := u.Ranges(20, 8)
	assert.Equal(t, [][2]int64{{0, 7}, {8, 15}, {16, 19}}, ranges)
	err := u.CopyRanges(ctx, "root/dst", ranges, 2, func(ctx context.Context, id string, n int32, r [2]int64) (string, error) {
		if n == 2 {
			return "", errors.New("injected")
		}
		return f.UploadPart(ctx, "root/dst", id, n, []byte(strings.Repeat("x", int(r[1]-r[0]+1))))
	})
	require.Error(t, err)
	assert.Empty(t, f.uploads, "the failed copy's upload")
	_, err = f.Stat(ctx, "root/dst")
	assert.True(t, f.IsNotFound(err))
}

// TestCompletedETag: the MD5 of the parts' MD5s, a dash, the count.
func TestCompletedETag(t *testing.T) {
	a, b := md5.Sum([]byte("a")), md5.Sum([]byte("b"))
	parts := []Part{{N: 1, ETag: `"` + hex.EncodeToString(a[:]) + `"`}, {N: 2, ETag: hex.EncodeToString(b[:])}}
	all := md5.Sum(append(a[:], b[:]...))
	assert.Equal(t, hex.EncodeToString(all[:])+"-2", CompletedETag(parts))
	assert.Empty(t, CompletedETag([]Part{{N: 1, ETag: "not-hex"}}))
}
