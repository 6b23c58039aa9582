package replica_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/memory"
	"github.com/berthio/berth/nasfs"
	"github.com/berthio/berth/replica"
)

func TestMain(m *testing.M) {
	replica.Main(driver.NewRegistry(memory.Factory, nasfs.Factory))
	os.Exit(m.Run())
}

func start(t *testing.T) *replica.Process {
	t.Helper()
	p := &replica.Process{URL: "memory://" + t.Name()}
	require.NoError(t, p.Start(t.Context()))
	t.Cleanup(func() { p.Kill() })
	return p
}

// TestSeededWritesStreamAndRangesDigest writes seeded content larger than
// the replica's buffer and checks full and ranged digests, and the time to
// first byte, against Payload.
func TestSeededWritesStreamAndRangesDigest(t *testing.T) {
	const n = 3<<20 + 17
	p := start(t)
	ctx := t.Context()
	want := replica.Payload(7, n)
	open, err := p.Do(ctx, replica.Request{Op: "writer-open", Path: "/f"})
	require.NoError(t, err)
	rep, err := p.Do(ctx, replica.Request{Op: "write", Handle: open.Handle, Content: replica.Content{Seed: 7, N: n}})
	require.NoError(t, err)
	assert.EqualValues(t, n, rep.Size)
	_, err = p.Do(ctx, replica.Request{Op: "commit", Handle: open.Handle})
	require.NoError(t, err)
	for _, c := range []struct{ off, end, length int64 }{{0, n, 0}, {1 << 20, 2<<20 + 5, 1<<20 + 5}, {n - 3, n, 0}} {
		rep, err := p.Do(ctx, replica.Request{Op: "digest", Path: "/f", Offset: c.off, Length: c.length})
		require.NoError(t, err)
		assert.EqualValues(t, c.end-c.off, rep.Size, "digest from %d", c.off)
		assert.Equal(t, replica.Digest(want[c.off:c.end]), rep.Digest, "digest from %d", c.off)
		assert.Positive(t, rep.TTFB, "digest from %d", c.off)
	}
	var streamed bytes.Buffer
	_, err = io.Copy(&streamed, replica.PayloadReader(7, n))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, streamed.Bytes()), "PayloadReader differs from Payload")
}

// TestConcurrentCommands has many goroutines drive one replica at once, as
// a registry's requests share one process: every upload ends whole.
func TestConcurrentCommands(t *testing.T) {
	p := start(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := fmt.Sprintf("/c/%d", i)
			content := replica.Content{Seed: uint64(i), N: int64(1000 + i)}
			h, err := p.Do(ctx, replica.Request{Op: "writer-open", Path: path})
			if err == nil {
				_, err = p.Do(ctx, replica.Request{Op: "write", Handle: h.Handle, Content: content})
			}
			if err == nil {
				_, err = p.Do(ctx, replica.Request{Op: "commit", Handle: h.Handle})
			}
			var d replica.Reply
			if err == nil {
				d, err = p.Do(ctx, replica.Request{Op: "digest", Path: path})
			}
			if err == nil && d.Digest != replica.Digest(content.Bytes()) {
				err = fmt.Errorf("%s: wrong digest", path)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	// A committed writer's handle is gone.
	_, err := p.Do(ctx, replica.Request{Op: "close", Handle: 1})
	assert.ErrorContains(t, err, "no writer")
}

// TestHashedWritesResumeAcrossProcesses hashes an upload written in three
// chunks by two processes, passing the hash state along as a registry does
// across PATCH requests: the digest is the content's.
func TestHashedWritesResumeAcrossProcesses(t *testing.T) {
	url := "nasfs://" + t.TempDir()
	a, b := &replica.Process{URL: url}, &replica.Process{URL: url}
	for _, p := range []*replica.Process{a, b} {
		require.NoError(t, p.Start(t.Context()))
		defer p.Kill()
	}
	ctx := t.Context()
	chunks := []replica.Content{{Seed: 1, N: 5000}, {Data: []byte("middle")}, {Seed: 2, N: 70000}}
	var all []byte
	var state []byte
	var digest string
	for i, c := range chunks {
		p := []*replica.Process{a, b}[i%2]
		rep, err := p.Do(ctx, replica.Request{Op: "writer-open", Path: "/h", Append: i > 0})
		require.NoError(t, err)
		h := rep.Handle
		rep, err = p.Do(ctx, replica.Request{Op: "write", Handle: h, Content: c, Hash: true, HashState: state})
		require.NoError(t, err)
		state, digest = rep.HashState, rep.Digest
		_, err = p.Do(ctx, replica.Request{Op: "close", Handle: h})
		require.NoError(t, err)
		all = append(all, c.Bytes()...)
	}
	assert.Equal(t, replica.Digest(all), digest)
}
