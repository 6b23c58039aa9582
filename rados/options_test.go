//go:build cgo

package rados

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ceph/go-ceph/rados"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/cephasok"
)

// conn returns the librados connection of st.
func conn(t testing.TB, st *driver.Store) *rados.Conn {
	var c *rados.Conn
	require.True(t, st.As(&c))
	return c
}

// TestOptions: Config.Options reach librados, give the instance a
// connection of its own, and an option librados does not know fails New
// naming it.
func TestOptions(t *testing.T) {
	cfg := testConfig(t)
	plain, err := New(t.Context(), cfg)
	require.NoError(t, err)
	cfg.Options = map[string]string{"ms max backoff": "0.5", "ms_initial_backoff": "0.05"}
	st, err := New(t.Context(), cfg)
	require.NoError(t, err)
	v, err := conn(t, st).GetConfigOption("ms_max_backoff")
	require.NoError(t, err)
	assert.Equal(t, 0.5, mustFloat(t, v))
	assert.NotSame(t, conn(t, plain), conn(t, st), "other Options, another connection")
	again, err := New(t.Context(), cfg)
	require.NoError(t, err)
	assert.Same(t, conn(t, st), conn(t, again), "the same Options, the same connection")

	cfg.Options = map[string]string{"ms_no_such_option": "secret-value"}
	_, err = New(t.Context(), cfg)
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "ms_no_such_option")
	assert.NotContains(t, err.Error(), "secret-value")
}

func mustFloat(t testing.TB, s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return f
}

// TestF5F20InjectedSocketFailuresHidden: with the messenger tearing its
// socket down often (Options ms_inject_socket_failures), librados
// reconnects and resends, the OSD answers resent ops it already applied
// from its log, and the driver's calls succeed with exact content; the
// client's admin socket shows the resent ops. This is the fault the
// conformance suite's chaos test (F5_F15_F20_Chaos) puts on rados.
func TestF5F20InjectedSocketFailuresHidden(t *testing.T) {
	cfg := testConfig(t)
	cfg.ChunkSize = MinChunkSize
	dir, err := os.MkdirTemp("", "berth-rados-") // a socket path holds at most 107 bytes
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	asok := filepath.Join(dir, "client.asok")
	cfg.Options = map[string]string{
		"admin_socket":              asok,
		"ms_inject_socket_failures": "40",
		"ms_initial_backoff":        "0.01",
		"ms_max_backoff":            "0.2",
	}
	st, err := New(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { conn(t, st).SetConfigOption("ms_inject_socket_failures", "0") })
	ctx := t.Context()
	for i := range 12 {
		data := bytes.Repeat([]byte{byte(i)}, int(MinChunkSize)*3+i)
		p := "/f" + strconv.Itoa(i)
		require.NoError(t, st.PutContent(ctx, p, data))
		got, err := st.GetContent(ctx, p)
		require.NoError(t, err)
		require.True(t, bytes.Equal(got, data), "%s", p)
		require.NoError(t, st.Delete(ctx, p))
	}
	dump, err := cephasok.Command(ctx, asok, `{"prefix":"perf dump"}`)
	require.NoError(t, err)
	resent, err := cephasok.PerfSum(dump, "objecter", "op_resend")
	require.NoError(t, err)
	conns, err := cephasok.PerfSum(dump, "AsyncMessenger::Worker", "msgr_created_connections")
	require.NoError(t, err)
	t.Logf("librados resent %d ops over %d connections", resent, conns)
	assert.Positive(t, resent, "no op was resent: the injected socket failures did not happen")
}

// TestF20StalledOSDFailsWithinBound: when the OSD stops answering (Ceph's
// ms_blackhole_osd drops every message to and from it), each call fails
// with an error within a few OpTimeouts, Writer.Close (which takes no
// context) included, instead of hanging; afterwards the store works.
func TestF20StalledOSDFailsWithinBound(t *testing.T) {
	cfg := testConfig(t)
	cfg.ChunkSize = MinChunkSize
	cfg.OpTimeout = time.Second
	cfg.Options = map[string]string{"ms_blackhole_osd": "false"} // a connection of its own
	st, err := New(t.Context(), cfg)
	require.NoError(t, err)
	ctx := t.Context()
	data := bytes.Repeat([]byte("stall"), int(MinChunkSize)/2)
	require.NoError(t, st.PutContent(ctx, "/old", data))
	c := conn(t, st)
	require.NoError(t, c.SetConfigOption("ms_blackhole_osd", "true"))
	defer c.SetConfigOption("ms_blackhole_osd", "false")

	const bound = 10 * time.Second
	calls := []struct {
		name string
		call func() error
	}{
		{"PutContent", func() error { return st.PutContent(ctx, "/new", data) }},
		{"GetContent", func() error { _, err := st.GetContent(ctx, "/old"); return err }},
		{"Stat", func() error { _, err := st.Stat(ctx, "/old"); return err }},
		{"List", func() error { _, err := st.List(ctx, "/"); return err }},
		{"Writer", func() error { _, err := st.Writer(ctx, "/up", false); return err }},
		{"Move", func() error { return st.Move(ctx, "/old", "/moved") }},
		{"Delete", func() error { return st.Delete(ctx, "/old") }},
	}
	for _, cl := range calls {
		start := time.Now()
		err := cl.call()
		took := time.Since(start)
		assert.Error(t, err, "%s on a stalled OSD", cl.name)
		assert.Less(t, took, bound, "%s took %v on a stalled OSD", cl.name, took)
		t.Logf("%s: %v after %v", cl.name, err, took.Round(time.Millisecond))
	}

	// A writer opened before the stall: Write hands chunks on, Close waits
	// for them and publishes.
	require.NoError(t, c.SetConfigOption("ms_blackhole_osd", "false"))
	w, err := st.Writer(ctx, "/up", false)
	require.NoError(t, err)
	require.NoError(t, c.SetConfigOption("ms_blackhole_osd", "true"))
	start := time.Now()
	_, werr := w.Write(bytes.Repeat(data, 5))
	cerr := w.Close()
	took := time.Since(start)
	assert.Error(t, errors.Join(werr, cerr), "Write and Close on a stalled OSD")
	assert.Less(t, took, bound, "Write and Close took %v on a stalled OSD", took)
	t.Logf("Write: %v; Close: %v after %v", werr, cerr, took.Round(time.Millisecond))

	require.NoError(t, c.SetConfigOption("ms_blackhole_osd", "false"))
	got, err := st.GetContent(ctx, "/old")
	require.NoError(t, err, "after the stall")
	assert.True(t, bytes.Equal(got, data))
	for _, p := range []string{"/old", "/new", "/moved", "/up"} {
		if err := st.Delete(ctx, p); err != nil && !errors.Is(err, driver.ErrNotFound) {
			t.Errorf("Delete(%s) after the stall: %v", p, err)
		}
	}
	require.NoError(t, st.Sweep(ctx, 0))
}
