package rados

import (
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/berthio/berth/driver"
)

// Name is the registered driver name and URL scheme.
const Name = "rados"

// Config configures a rados instance. The zero value of every field but
// Pool selects its default; Validate says what is wrong with the rest. A
// Config prints Key as REDACTED, so it can be logged whole.
type Config struct {
	// ConfigFile is the ceph.conf to read. Empty: $CEPH_CONF, then
	// librados' own search (/etc/ceph/ceph.conf, ~/.config/ceph/ceph.conf,
	// ./ceph.conf); no file at all is fine when MonHost is set.
	ConfigFile string
	// Cluster is the cluster name ($cluster in ceph.conf). Default "ceph".
	Cluster string
	// User is the cephx client id, without "client.". Default "admin".
	User string
	// Keyring is a keyring file holding client.<User>'s key. Empty: the
	// keyring ceph.conf names, or librados' default locations.
	Keyring string
	// Key is client.<User>'s secret key itself (base64), instead of a
	// keyring file. It never appears in an error or a log line.
	Key driver.Secret
	// MonHost overrides ceph.conf's mon_host ("127.0.0.1:6789,...").
	MonHost string

	// Pool holds everything: required. It must exist unless CreatePool.
	Pool string
	// CreatePool creates Pool when it is missing, with the cluster's
	// default pool settings. Off by default: a misspelt pool name should
	// fail, not create a second, empty store.
	CreatePool bool
	// Namespace is the RADOS namespace inside Pool; instances on different
	// namespaces of one pool never see each other. Default "".
	Namespace string

	// ChunkSize is the size of the chunk objects a file is striped into,
	// all but the last: MinChunkSize to MaxChunkSize, a multiple of 4 KiB,
	// default DefaultChunkSize. Each chunk is written and read in one op.
	ChunkSize int64
	// Concurrency is how many chunks one writer or reader moves at once,
	// 1 to MaxConcurrency, default DefaultConcurrency. A writer buffers at
	// most Concurrency x ChunkSize; a reader (Concurrency+1) x ChunkSize:
	// the chunk it delivers and Concurrency in flight.
	Concurrency int

	// ConnectTimeout bounds New's connection to the monitors (librados'
	// client_mount_timeout and rados_mon_op_timeout): an unreachable
	// monitor fails New after this long. 1s to 5m, default 10s.
	ConnectTimeout time.Duration
	// OpTimeout bounds every operation on an OSD (rados_osd_op_timeout):
	// a call to an OSD that does not answer fails with ETIMEDOUT instead
	// of hanging. 0 selects DefaultOpTimeout; at most 1h.
	OpTimeout time.Duration

	// Options are extra Ceph configuration options for this client, as in
	// ceph.conf ("ms_max_backoff": "1", "admin_socket": "/run/ceph/reg.asok",
	// "debug_ms": "1"), set on the connection after ConfigFile is read, so
	// they override it. Names may use blanks or dashes for underscores, as
	// in ceph.conf. Options that a field above sets (keyring, key,
	// mon_host, the three timeouts) are refused: use the field. Instances
	// with different Options get different connections. A name librados
	// does not know fails New. Values are never echoed in errors.
	Options map[string]string
}

// Defaults and limits of Config.
const (
	DefaultCluster = "ceph"
	DefaultUser    = "admin"

	MinChunkSize     int64 = 64 << 10
	MaxChunkSize     int64 = 64 << 20 // under osd_max_write_size (90 MB) and osd_max_object_size (128 MiB)
	DefaultChunkSize int64 = 4 << 20

	DefaultConcurrency = 4
	MaxConcurrency     = 64

	DefaultConnectTimeout = 10 * time.Second
	MinConnectTimeout     = time.Second
	MaxConnectTimeout     = 5 * time.Minute
	DefaultOpTimeout      = 2 * time.Minute
	MaxOpTimeout          = time.Hour

	// MaxObjectSize is the largest file: 16 TiB, 4 Mi chunks of the
	// default size. Declared in Capabilities; larger size hints are
	// ErrTooLarge.
	MaxObjectSize int64 = 16 << 40
)

// EnvConf is the environment variable librados and the ceph tools read
// the ceph.conf path from.
const EnvConf = "CEPH_CONF"

func (c *Config) setDefaults() {
	if c.ConfigFile == "" {
		c.ConfigFile = os.Getenv(EnvConf)
	}
	if c.Cluster == "" {
		c.Cluster = DefaultCluster
	}
	if c.User == "" {
		c.User = DefaultUser
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = DefaultOpTimeout
	}
}

// Validate checks the configuration without touching the cluster or a
// file. Zero values count as their defaults. Every problem is an
// ErrInvalidConfig error naming the field; Key is never echoed.
func (c Config) Validate() error {
	d := c
	d.setDefaults()
	switch {
	case d.Pool == "":
		return configError("Pool is not set")
	case strings.ContainsFunc(d.Pool, notPrintable):
		return configError("Pool %q holds blanks or control characters", d.Pool)
	case strings.ContainsFunc(d.Namespace, notPrintable):
		return configError("Namespace %q holds blanks or control characters", d.Namespace)
	case strings.ContainsFunc(d.Cluster, notNameChar):
		return configError("Cluster %q is not a cluster name ([A-Za-z0-9._-])", d.Cluster)
	case strings.ContainsFunc(d.User, notNameChar):
		return configError("User %q is not a cephx id ([A-Za-z0-9._-], without \"client.\")", d.User)
	case strings.HasPrefix(d.User, "client."):
		return configError("User %q: give the id without \"client.\" (%q)", d.User, strings.TrimPrefix(d.User, "client."))
	case d.Keyring != "" && d.Key != "":
		return configError("Keyring and Key exclude each other")
	case strings.ContainsFunc(d.Key.Reveal(), notPrintable):
		return configError("Key holds blanks or control characters")
	case strings.ContainsFunc(d.MonHost, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return configError("MonHost %q holds blanks or control characters", d.MonHost)
	}
	if d.ChunkSize < MinChunkSize || d.ChunkSize > MaxChunkSize || d.ChunkSize%(4<<10) != 0 {
		return configError("ChunkSize %d: want a multiple of 4096 from %d (64 KiB) to %d (64 MiB; RADOS refuses single ops over 90 MB)",
			d.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	if d.Concurrency < 1 || d.Concurrency > MaxConcurrency {
		return configError("Concurrency %d: want 1 to %d", d.Concurrency, MaxConcurrency)
	}
	if d.ConnectTimeout < MinConnectTimeout || d.ConnectTimeout > MaxConnectTimeout {
		return configError("ConnectTimeout %s: want %s to %s", d.ConnectTimeout, MinConnectTimeout, MaxConnectTimeout)
	}
	if d.OpTimeout < time.Second || d.OpTimeout > MaxOpTimeout {
		return configError("OpTimeout %s: want 1s to %s", d.OpTimeout, MaxOpTimeout)
	}
	_, err := d.options()
	return err
}

// fieldOptions are the Ceph options that Config's fields set; Options
// may not set them too.
var fieldOptions = map[string]string{
	"keyring":              "Keyring",
	"key":                  "Key",
	"keyfile":              "Key or Keyring",
	"mon_host":             "MonHost",
	"client_mount_timeout": "ConnectTimeout",
	"rados_mon_op_timeout": "ConnectTimeout",
	"rados_osd_op_timeout": "OpTimeout",
}

// options returns Options with canonical names (blanks and dashes turned
// to underscores), sorted by name, or the ErrInvalidConfig error that
// names the first bad one. No error holds a value.
func (c Config) options() ([][2]string, error) {
	out := make([][2]string, 0, len(c.Options))
	seen := make(map[string]string, len(c.Options))
	for name, val := range c.Options {
		canon := strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' {
				return '_'
			}
			return r
		}, name)
		switch {
		case canon == "" || strings.Trim(canon, "_") == "":
			return nil, configError("Options: an option name is empty")
		case strings.ContainsFunc(canon, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') }):
			return nil, configError("Options[%q]: not a Ceph option name (lower-case letters, digits, '_', '-' or blanks)", name)
		case fieldOptions[canon] != "":
			return nil, configError("Options[%q]: set it with Config.%s", name, fieldOptions[canon])
		case seen[canon] != "":
			return nil, configError("Options[%q] and Options[%q] name the same option", seen[canon], name)
		case strings.ContainsFunc(val, func(r rune) bool { return r < ' ' || r == 0x7f }):
			return nil, configError("Options[%q]: the value holds control characters", name)
		}
		seen[canon] = name
		out = append(out, [2]string{canon, val})
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out, nil
}

func configError(format string, args ...any) error { return driver.ConfigError(Name, format, args...) }

func notNameChar(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
}

func notPrintable(r rune) bool { return r <= ' ' || r == 0x7f }

// configFromURL decodes rados://pool[/namespace]?key=value... The key is
// accepted in the query but never echoed; a keyring file is the better
// place for it.
func configFromURL(u *url.URL) (Config, error) {
	var cfg Config
	switch {
	case u.User != nil:
		return cfg, configError("rados URLs take no user@ or user:password@; use the user and keyring (or key) query keys")
	case u.Opaque != "" || u.Host == "":
		return cfg, configError("want rados://pool[/namespace][?key=value...]")
	case u.Fragment != "":
		return cfg, configError("rados URLs take no #fragment")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil { // its text may quote part of a key
		return cfg, configError("the URL's query is malformed")
	}
	m := make(map[string]any, len(q))
	for k, vs := range q {
		if len(vs) != 1 {
			return cfg, configError("query parameter %q given %d times", k, len(vs))
		}
		m[k] = vs[0]
	}
	cfg.Pool = u.Host
	if ns := strings.Trim(u.Path, "/"); ns != "" {
		if strings.Contains(ns, "/") {
			return cfg, configError("want rados://pool[/namespace]: the namespace is one path component")
		}
		cfg.Namespace = ns
	}
	p := driver.NewParams(Name, m)
	p.String("conf", &cfg.ConfigFile)
	p.String("cluster", &cfg.Cluster)
	p.String("user", &cfg.User)
	p.String("keyring", &cfg.Keyring)
	p.Secret("key", &cfg.Key)
	p.String("mon_host", &cfg.MonHost)
	p.Bool("create_pool", &cfg.CreatePool)
	p.Int64("chunk_size", &cfg.ChunkSize)
	p.Int("concurrency", &cfg.Concurrency)
	p.Duration("connect_timeout", &cfg.ConnectTimeout)
	p.Duration("op_timeout", &cfg.OpTimeout)
	return cfg, p.Err()
}

// configFromParameters maps a parameter map onto a Config, strictly: an
// unknown key is an error. poolname, username and chunksize are the keys
// of distribution's former rados driver; the rest are Berth's.
func configFromParameters(params map[string]any) (Config, error) {
	var cfg Config
	p := driver.NewParams(Name, params)
	p.String("poolname", &cfg.Pool)
	p.String("username", &cfg.User)
	p.Int64("chunksize", &cfg.ChunkSize)
	p.String("conffile", &cfg.ConfigFile)
	p.String("cluster", &cfg.Cluster)
	p.String("keyring", &cfg.Keyring)
	p.Secret("key", &cfg.Key)
	p.String("monhost", &cfg.MonHost)
	p.String("namespace", &cfg.Namespace)
	p.Bool("createpool", &cfg.CreatePool)
	p.Int("concurrency", &cfg.Concurrency)
	p.Duration("connecttimeout", &cfg.ConnectTimeout)
	p.Duration("optimeout", &cfg.OpTimeout)
	if err := p.Err(); err != nil {
		return cfg, err
	}
	// distribution's driver took "client.name" or "name".
	cfg.User = strings.TrimPrefix(cfg.User, "client.")
	return cfg, nil
}
