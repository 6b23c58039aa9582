package rados

import (
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

func TestConfigDefaults(t *testing.T) {
	t.Setenv(EnvConf, "/etc/ceph/other.conf")
	c := Config{Pool: "p"}
	require.NoError(t, c.Validate())
	c.setDefaults()
	assert.Equal(t, "/etc/ceph/other.conf", c.ConfigFile, "CEPH_CONF is honoured")
	assert.Equal(t, DefaultCluster, c.Cluster)
	assert.Equal(t, DefaultUser, c.User)
	assert.Equal(t, DefaultChunkSize, c.ChunkSize)
	assert.Equal(t, DefaultConcurrency, c.Concurrency)
	assert.Equal(t, DefaultConnectTimeout, c.ConnectTimeout)
	assert.Equal(t, DefaultOpTimeout, c.OpTimeout)

	c = Config{Pool: "p", ConfigFile: "/mine.conf"}
	c.setDefaults()
	assert.Equal(t, "/mine.conf", c.ConfigFile, "an explicit ConfigFile wins over CEPH_CONF")
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		says string
	}{
		{Config{}, "Pool is not set"},
		{Config{Pool: "a b"}, "Pool"},
		{Config{Pool: "p", User: "client.x"}, `without "client."`},
		{Config{Pool: "p", User: "a/b"}, "User"},
		{Config{Pool: "p", Cluster: "c d"}, "Cluster"},
		{Config{Pool: "p", Keyring: "/k", Key: "AQ=="}, "exclude"},
		{Config{Pool: "p", Key: "AQ ==secret"}, "Key holds"},
		{Config{Pool: "p", ChunkSize: 32 << 10}, "ChunkSize 32768"},
		{Config{Pool: "p", ChunkSize: 96 << 20}, "ChunkSize 100663296"},
		{Config{Pool: "p", ChunkSize: 1<<20 + 512}, "multiple of 4096"},
		{Config{Pool: "p", ChunkSize: -1}, "ChunkSize -1"},
		{Config{Pool: "p", Concurrency: 65}, "Concurrency 65"},
		{Config{Pool: "p", Concurrency: -1}, "Concurrency -1"},
		{Config{Pool: "p", ConnectTimeout: time.Millisecond}, "ConnectTimeout 1ms"},
		{Config{Pool: "p", ConnectTimeout: time.Hour}, "ConnectTimeout 1h0m0s"},
		{Config{Pool: "p", OpTimeout: 2 * time.Hour}, "OpTimeout 2h0m0s"},
		{Config{Pool: "p", Options: map[string]string{"": "1"}}, "option name is empty"},
		{Config{Pool: "p", Options: map[string]string{" - ": "1"}}, "option name is empty"},
		{Config{Pool: "p", Options: map[string]string{"Debug_MS": "1"}}, `Options["Debug_MS"]: not a Ceph option name`},
		{Config{Pool: "p", Options: map[string]string{"key": "AQsecret"}}, `Options["key"]: set it with Config.Key`},
		{Config{Pool: "p", Options: map[string]string{"mon host": "10.0.0.1"}}, "Config.MonHost"},
		{Config{Pool: "p", Options: map[string]string{"keyring": "/k"}}, "Config.Keyring"},
		{Config{Pool: "p", Options: map[string]string{"rados-osd-op-timeout": "5"}}, "Config.OpTimeout"},
		{Config{Pool: "p", Options: map[string]string{"debug_ms": "1\nsecret"}}, "control characters"},
		{Config{Pool: "p", Options: map[string]string{"debug ms": "1", "debug-ms": "2"}}, "name the same option"},
	} {
		err := c.cfg.Validate()
		require.Error(t, err, "%+v", c.cfg)
		assert.True(t, errors.Is(err, driver.ErrInvalidConfig), "%v", err)
		assert.Contains(t, err.Error(), c.says)
		assert.NotContains(t, err.Error(), "secret")
	}
	for _, ok := range []Config{
		{Pool: "p", ChunkSize: MinChunkSize},
		{Pool: "p", ChunkSize: MaxChunkSize, Concurrency: MaxConcurrency},
		{Pool: "p", Key: "AQBMLQprfLuBJBAAbK3PG/4zxPIG05bYszCGjw==", Namespace: "ns-1"},
		{Pool: "p", Options: map[string]string{"debug ms": "1/5", "ms_inject_delay_type": "osd mon"}},
	} {
		assert.NoError(t, ok.Validate())
	}
}

func TestConfigOptionsCanonical(t *testing.T) {
	opts, err := Config{Options: map[string]string{"ms-max backoff": "1", "debug_ms": "0"}}.options()
	require.NoError(t, err)
	assert.Equal(t, [][2]string{{"debug_ms", "0"}, {"ms_max_backoff", "1"}}, opts)
}

func TestConfigPrintsNoKey(t *testing.T) {
	c := Config{Pool: "p", Key: "AQBMLQprfLuBJBAAbK3PG/4zxPIG05bYszCGjw=="}
	for _, f := range []string{"%v", "%+v", "%#v"} {
		assert.NotContains(t, fmt.Sprintf(f, c), "AQBMLQ")
	}
}

func TestConfigFromURL(t *testing.T) {
	u, _ := url.Parse("rados://berth/ns1?conf=/c.conf&user=reg&keyring=/k&cluster=c2&mon_host=10.0.0.1:6789" +
		"&chunk_size=1048576&concurrency=8&connect_timeout=3s&op_timeout=1m&create_pool=true")
	c, err := configFromURL(u)
	require.NoError(t, err)
	assert.Equal(t, Config{ConfigFile: "/c.conf", Cluster: "c2", User: "reg", Keyring: "/k", MonHost: "10.0.0.1:6789",
		Pool: "berth", CreatePool: true, Namespace: "ns1", ChunkSize: 1 << 20, Concurrency: 8,
		ConnectTimeout: 3 * time.Second, OpTimeout: time.Minute}, c)

	for raw, says := range map[string]string{
		"rados://u:pw@pool":            "no user@",
		"rados:///ns":                  "want rados://pool",
		"rados://pool/a/b":             "one path component",
		"rados://pool?chunksize=1":     "unknown parameter",
		"rados://pool?concurrency=x":   "want an integer",
		"rados://pool?key=AQsecret%zz": "malformed",
		"rados://pool#frag":            "fragment",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		_, err = configFromURL(u)
		require.Error(t, err, raw)
		assert.Contains(t, err.Error(), says, raw)
		assert.NotContains(t, err.Error(), "pw")
		assert.NotContains(t, err.Error(), "AQsecret")
	}
}

func TestConfigFromParameters(t *testing.T) {
	c, err := configFromParameters(map[string]any{
		"poolname": "berth", "username": "client.registry", "chunksize": 4194304, "namespace": "n",
		"conffile": "/etc/ceph/ceph.conf", "createpool": "true", "concurrency": 2, "connecttimeout": "5s",
	})
	require.NoError(t, err)
	assert.Equal(t, Config{Pool: "berth", User: "registry", ChunkSize: 4 << 20, Namespace: "n",
		ConfigFile: "/etc/ceph/ceph.conf", CreatePool: true, Concurrency: 2, ConnectTimeout: 5 * time.Second}, c)
	_, err = configFromParameters(map[string]any{"poolname": "p", "pool": "typo"})
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.Contains(t, err.Error(), `unknown parameter(s): pool`)
	_, err = configFromParameters(map[string]any{"poolname": "p", "key": driver.Secret("AQsecret"), "chunksize": "big"})
	require.ErrorIs(t, err, driver.ErrInvalidConfig)
	assert.NotContains(t, err.Error(), "AQsecret")
}

func TestRecordLayout(t *testing.T) {
	assert.Equal(t, "D/", dirObj(treeFiles, "/"))
	assert.Equal(t, "U/a/b", dirObj(treeUploads, "/a/b"))
	for _, c := range []struct{ p, dir, name string }{{"/a", "/", "a"}, {"/a/b/c", "/a/b", "c"}} {
		d, n := split(c.p)
		assert.Equal(t, c.dir, d)
		assert.Equal(t, c.name, n)
		assert.Equal(t, c.p, child(d, n))
	}
	oid := chunkObj("0123abcd", 0x1f)
	assert.Equal(t, "C.0123abcd.1f", oid)
	g, i, ok := parseChunkObj(oid)
	assert.True(t, ok)
	assert.Equal(t, "0123abcd", g)
	assert.EqualValues(t, 0x1f, i)
	_, _, ok = parseChunkObj("D/x")
	assert.False(t, ok)
	runs := []run{{Gen: "a", First: 0, N: 2}, {Gen: "b", First: 2, N: 1}}
	assert.Equal(t, []string{"C.a.0", "C.a.1", "C.b.2"}, chunks(runs))
	at, ok := chunkAt(runs, 2)
	assert.True(t, ok)
	assert.Equal(t, "C.b.2", at)
	_, ok = chunkAt(runs, 3)
	assert.False(t, ok)
}
