//go:build cgo

package rados

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/testenv"
)

// testConfig is the test cluster's configuration (backends.env), on a
// fresh namespace that the test empties afterwards.
func testConfig(t testing.TB) Config {
	env := testenv.Require(t, testenv.Rados...)
	var rnd [6]byte
	rand.Read(rnd[:])
	cfg := Config{
		ConfigFile: env[testenv.RadosConf], Keyring: env[testenv.RadosKeyring], User: env[testenv.RadosUser],
		Pool: env[testenv.RadosPool], Namespace: "unit-" + hex.EncodeToString(rnd[:]),
	}
	t.Cleanup(func() { emptyNamespace(t, cfg) })
	return cfg
}

// emptyNamespace removes every object of cfg's namespace.
func emptyNamespace(t testing.TB, cfg Config) {
	st, err := New(context.Background(), cfg)
	if err != nil {
		t.Errorf("clean-up: %v", err)
		return
	}
	var b driver.Backend
	require.True(t, st.As(&b))
	io := b.(*backend).io
	var oids []string
	if err := io.ListObjects(func(oid string) { oids = append(oids, oid) }); err != nil {
		t.Errorf("clean-up: list: %v", err)
	}
	for _, oid := range oids {
		if err := io.Delete(oid); err != nil && !isNotFound(err) {
			t.Errorf("clean-up: delete %s: %v", oid, err)
		}
	}
}

// wrongKey is a well-formed cephx key that no cluster knows.
const wrongKey = "AQBMLQprfLuBJBAAbK3PG/4zxPIG05bYszCGjw=="

// TestOpenErrors: each wrong setting fails New with its kind and a
// message naming the problem, within a bounded time, and no error shows
// the key.
func TestOpenErrors(t *testing.T) {
	good := testConfig(t)
	dir := t.TempDir()
	badKeyring := filepath.Join(dir, "wrong.keyring")
	require.NoError(t, os.WriteFile(badKeyring, []byte("[client.admin]\n\tkey = "+wrongKey+"\n"), 0o600))
	nobodyKeyring := filepath.Join(dir, "nobody.keyring")
	require.NoError(t, os.WriteFile(nobodyKeyring, []byte("[client.nobody]\n\tkey = "+wrongKey+"\n"), 0o600))

	cases := []struct {
		name   string
		change func(c *Config)
		kind   error
		says   string
		within time.Duration
	}{
		{"MissingPool", func(c *Config) { c.Pool = "berth-no-such-pool" }, driver.ErrInvalidConfig,
			`pool "berth-no-such-pool" does not exist`, 30 * time.Second},
		{"WrongKeyInKeyring", func(c *Config) { c.Keyring = badKeyring; c.ConnectTimeout = 5 * time.Second }, driver.ErrPermission,
			"client.admin", 30 * time.Second},
		{"WrongKeyInConfig", func(c *Config) { c.Keyring = ""; c.Key = wrongKey; c.ConnectTimeout = 5 * time.Second }, driver.ErrPermission,
			"client.admin", 30 * time.Second},
		{"UnknownUser", func(c *Config) { c.User = "nobody"; c.Keyring = nobodyKeyring; c.ConnectTimeout = 5 * time.Second }, driver.ErrPermission,
			"client.nobody", 30 * time.Second},
		{"UserWithoutKey", func(c *Config) { c.User = "nokey" }, driver.ErrPermission,
			"client.nokey", 30 * time.Second},
		{"MissingKeyring", func(c *Config) { c.Keyring = filepath.Join(dir, "none.keyring") }, driver.ErrInvalidConfig,
			"none.keyring", time.Second},
		{"MissingConfigFile", func(c *Config) { c.ConfigFile = filepath.Join(dir, "none.conf") }, driver.ErrInvalidConfig,
			"none.conf", time.Second},
		{"UnreachableMonitor", func(c *Config) { c.MonHost = "127.0.0.1:1"; c.ConnectTimeout = 2 * time.Second }, driver.ErrInvalidConfig,
			"cannot reach the monitors at 127.0.0.1:1 within ConnectTimeout 2s", 10 * time.Second},
		{"ChunkSizeTooSmall", func(c *Config) { c.ChunkSize = 1000 }, driver.ErrInvalidConfig, "ChunkSize 1000", time.Second},
		{"ChunkSizeTooLarge", func(c *Config) { c.ChunkSize = 128 << 20 }, driver.ErrInvalidConfig, "ChunkSize 134217728", time.Second},
		{"ChunkSizeUnaligned", func(c *Config) { c.ChunkSize = 1<<20 + 1 }, driver.ErrInvalidConfig, "a multiple of 4096", time.Second},
		{"NoPool", func(c *Config) { c.Pool = "" }, driver.ErrInvalidConfig, "Pool is not set", time.Second},
		{"UserWithPrefix", func(c *Config) { c.User = "client.admin" }, driver.ErrInvalidConfig, `without "client."`, time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.change(&cfg)
			start := time.Now()
			_, err := New(context.Background(), cfg)
			took := time.Since(start)
			require.Error(t, err)
			assert.True(t, errors.Is(err, c.kind), "New: %v, want kind %v", err, c.kind)
			assert.Contains(t, err.Error(), c.says)
			assert.NotContains(t, err.Error(), wrongKey)
			assert.LessOrEqual(t, took, c.within, "New took %v", took)
			var de *driver.Error
			if assert.True(t, errors.As(err, &de)) {
				assert.Equal(t, Name, de.Driver)
			}
			t.Logf("%v (in %v)", err, took.Round(time.Millisecond))
		})
	}
}

// TestCreatePool: a missing pool is created only when asked, then used.
func TestCreatePool(t *testing.T) {
	cfg := testConfig(t)
	cfg.Pool = "berth-unit-created-" + strings.TrimPrefix(cfg.Namespace, "unit-")
	_, err := New(context.Background(), cfg)
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	cfg.CreatePool = true
	st, err := New(context.Background(), cfg)
	require.NoError(t, err)
	var b driver.Backend
	require.True(t, st.As(&b))
	t.Cleanup(func() {
		if err := b.(*backend).conn.DeletePool(cfg.Pool); err != nil {
			t.Errorf("delete pool %s: %v", cfg.Pool, err)
		}
	})
	ctx := t.Context()
	require.NoError(t, st.PutContent(ctx, "/a", []byte("in a new pool")))
	got, err := st.GetContent(ctx, "/a")
	require.NoError(t, err)
	assert.Equal(t, "in a new pool", string(got))
	require.NoError(t, st.Delete(ctx, "/a"))
}

// TestFactoryURL: the URL form opens the same store and refuses what it
// cannot take, without echoing a key.
func TestFactoryURL(t *testing.T) {
	cfg := testConfig(t)
	reg := driver.NewRegistry(Factory)
	ctx := t.Context()
	u := "rados://" + cfg.Pool + "/" + cfg.Namespace + "?conf=" + cfg.ConfigFile + "&keyring=" + cfg.Keyring + "&user=" + cfg.User + "&chunk_size=65536"
	st, err := reg.Open(ctx, u)
	require.NoError(t, err)
	require.NoError(t, st.PutContent(ctx, "/x", []byte("via URL")))
	direct, err := New(ctx, cfg)
	require.NoError(t, err)
	got, err := direct.GetContent(ctx, "/x")
	require.NoError(t, err)
	assert.Equal(t, "via URL", string(got))
	require.NoError(t, direct.Delete(ctx, "/x"))

	_, err = reg.Open(ctx, "rados://"+cfg.Pool+"?key="+wrongKey+"&bogus=1")
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.NotContains(t, err.Error(), wrongKey)
	assert.Contains(t, err.Error(), "bogus")

	st, err = reg.FromParameters(ctx, Name, map[string]any{
		"poolname": cfg.Pool, "username": "client." + cfg.User, "conffile": cfg.ConfigFile,
		"keyring": cfg.Keyring, "namespace": cfg.Namespace, "chunksize": 1 << 20})
	require.NoError(t, err)
	_, err = st.Stat(ctx, "/x")
	require.ErrorIs(t, err, driver.ErrNotFound)
}
