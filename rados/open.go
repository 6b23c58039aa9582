//go:build cgo

package rados

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ceph/go-ceph/rados"

	"github.com/berthio/berth/driver"
)

// New opens an instance on cfg.Pool. It applies the defaults and validates
// cfg, then connects to the monitors, bounded by ConnectTimeout, and
// checks the pool, so that a wrong configuration fails here and not at the
// first push: an unreachable monitor, a missing pool or a missing file is
// ErrInvalidConfig, a refused key or user is ErrPermission. No error text
// holds the key.
//
// Instances with the same connection settings (ConfigFile, Cluster, User,
// Keyring, Key, MonHost, timeouts, Options) in one process share one
// librados connection, which lives as long as the process: a registry
// opens its driver once, and a test opens hundreds of instances.
func New(ctx context.Context, cfg Config) (*driver.Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for field, f := range map[string]string{"ConfigFile": cfg.ConfigFile, "Keyring": cfg.Keyring} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return nil, configError("%s %q: %v", field, f, errors.Unwrap(err))
		}
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ioc, err := sharedIO(conn, cfg)
	if err != nil {
		return nil, err
	}
	b := &backend{cfg: cfg, conn: conn, io: ioc.io, ios: ioc.ios}
	io := b.io
	// A read of an object that need not exist tells whether the user may
	// use the pool at all.
	if _, err := io.Stat(dirObj(treeFiles, "/")); err != nil && !isNotFound(err) {
		if k := classify(err); k == driver.ErrPermission {
			return nil, &driver.Error{Driver: Name, Op: "Open", Kind: driver.ErrPermission,
				Err: fmt.Errorf("client.%s may not read pool %q (check its OSD caps): %w", cfg.User, cfg.Pool, err)}
		}
		return nil, configError("checking pool %q: %w", cfg.Pool, err)
	}
	return driver.NewStore(b), nil
}

// ioContexts are the IOContexts of one pool and namespace on one
// connection: io for calls that need no object version, ios a pool of
// spares that one goroutine at a time borrows. Instances share them.
type ioContexts struct {
	io  *rados.IOContext
	ios chan *rados.IOContext
}

type ioKey struct {
	conn     *rados.Conn
	pool, ns string
}

var ioCache struct {
	sync.Mutex
	m map[ioKey]*ioContexts
}

// sharedIO returns the IOContexts for cfg's pool and namespace on conn.
func sharedIO(conn *rados.Conn, cfg Config) (*ioContexts, error) {
	k := ioKey{conn, cfg.Pool, cfg.Namespace}
	ioCache.Lock()
	defer ioCache.Unlock()
	if c := ioCache.m[k]; c != nil {
		return c, nil
	}
	io, err := openPool(conn, cfg)
	if err != nil {
		return nil, err
	}
	if ioCache.m == nil {
		ioCache.m = map[ioKey]*ioContexts{}
	}
	c := &ioContexts{io: io, ios: make(chan *rados.IOContext, 64)}
	ioCache.m[k] = c
	return c, nil
}

type connKey struct {
	conf, cluster, user, keyring, key, mon string
	connect, op                            time.Duration
	options                                string // canonical Options, "name=value\n" each
}

var conns struct {
	sync.Mutex
	m map[connKey]*rados.Conn
}

// connect returns the process's connection for cfg's settings, making it
// if needed.
func connect(ctx context.Context, cfg Config) (*rados.Conn, error) {
	opts, err := cfg.options()
	if err != nil {
		return nil, err
	}
	var o strings.Builder
	for _, kv := range opts {
		o.WriteString(kv[0] + "=" + kv[1] + "\n")
	}
	k := connKey{cfg.ConfigFile, cfg.Cluster, cfg.User, cfg.Keyring, cfg.Key.Reveal(), cfg.MonHost, cfg.ConnectTimeout, cfg.OpTimeout, o.String()}
	conns.Lock()
	defer conns.Unlock()
	if c := conns.m[k]; c != nil {
		return c, nil
	}
	c, err := dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if conns.m == nil {
		conns.m = map[connKey]*rados.Conn{}
	}
	conns.m[k] = c
	return c, nil
}

// dial makes a new connection. librados bounds the handshake with the
// timeouts set here; a timer bounds the call again, so that New returns
// even if librados does not.
func dial(ctx context.Context, cfg Config) (*rados.Conn, error) {
	conn, err := rados.NewConnWithClusterAndUser(cfg.Cluster, "client."+cfg.User)
	if err != nil {
		return nil, configError("creating a librados handle for client.%s: %w", cfg.User, err)
	}
	fail := func(err error) (*rados.Conn, error) { conn.Shutdown(); return nil, err }
	switch {
	case cfg.ConfigFile != "":
		if err := conn.ReadConfigFile(cfg.ConfigFile); err != nil {
			return fail(configError("reading ConfigFile %q: %w", cfg.ConfigFile, err))
		}
	default:
		if err := conn.ReadDefaultConfigFile(); err != nil && cfg.MonHost == "" {
			return fail(configError("no ceph.conf found (set ConfigFile, %s or MonHost): %w", EnvConf, err))
		}
	}
	secs := strconv.Itoa(int((cfg.ConnectTimeout + time.Second - 1) / time.Second))
	opts := [][2]string{
		{"client_mount_timeout", secs},
		{"rados_mon_op_timeout", secs},
		{"rados_osd_op_timeout", strconv.Itoa(int((cfg.OpTimeout + time.Second - 1) / time.Second))},
	}
	if cfg.Keyring != "" {
		opts = append(opts, [2]string{"keyring", cfg.Keyring})
	}
	if cfg.MonHost != "" {
		opts = append(opts, [2]string{"mon_host", cfg.MonHost})
	}
	for _, o := range opts {
		if err := conn.SetConfigOption(o[0], o[1]); err != nil {
			return fail(configError("setting %s: %w", o[0], err))
		}
	}
	extra, err := cfg.options()
	if err != nil {
		return fail(err)
	}
	for _, o := range extra {
		if err := conn.SetConfigOption(o[0], o[1]); err != nil {
			// The error names no value: librados reports only a code.
			return fail(configError("setting Options[%q]: %w (an unknown option, or a value it does not take)", o[0], err))
		}
	}
	if cfg.Key != "" {
		if err := conn.SetConfigOption("key", cfg.Key.Reveal()); err != nil {
			return fail(configError("setting Key: %v", code(err))) // the error could echo the key
		}
	}
	done := make(chan error, 1)
	go func() { done <- conn.Connect() }()
	timer := time.NewTimer(cfg.ConnectTimeout + 5*time.Second)
	defer timer.Stop()
	select {
	case err = <-done:
	case <-timer.C:
		go func() { <-done; conn.Shutdown() }()
		return nil, unreachable(cfg)
	case <-ctx.Done():
		go func() { <-done; conn.Shutdown() }()
		return nil, &driver.Error{Driver: Name, Op: "Open", Err: ctx.Err()}
	}
	if err == nil {
		return conn, nil
	}
	conn.Shutdown()
	switch code(err) {
	case syscall.ETIMEDOUT:
		return nil, unreachable(cfg)
	case syscall.EACCES, syscall.EPERM:
		return nil, &driver.Error{Driver: Name, Op: "Open", Kind: driver.ErrPermission,
			Err: fmt.Errorf("the monitors refused client.%s: check User and its key (Keyring or Key): %w", cfg.User, err)}
	case syscall.ENOENT:
		return nil, &driver.Error{Driver: Name, Op: "Open", Kind: driver.ErrPermission,
			Err: fmt.Errorf("no key for client.%s: the keyring holds none for this user (check User, Keyring or Key): %w", cfg.User, err)}
	case syscall.EINVAL:
		return nil, configError("connecting as client.%s: invalid settings (a malformed Key or MonHost?): %w", cfg.User, err)
	}
	return nil, configError("connecting as client.%s: %w", cfg.User, err)
}

func unreachable(cfg Config) error {
	where := "the monitors of ceph.conf"
	if cfg.MonHost != "" {
		where = "the monitors at " + cfg.MonHost
	}
	return configError("cannot reach %s within ConnectTimeout %s", where, cfg.ConnectTimeout)
}

// openPool opens cfg.Pool, creating it if missing and CreatePool.
func openPool(conn *rados.Conn, cfg Config) (*rados.IOContext, error) {
	io, err := conn.OpenIOContext(cfg.Pool)
	if isNotFound(err) && cfg.CreatePool {
		if err := conn.MakePool(cfg.Pool); err != nil && code(err) != syscall.EEXIST {
			if classify(err) == driver.ErrPermission {
				return nil, &driver.Error{Driver: Name, Op: "Open", Kind: driver.ErrPermission,
					Err: fmt.Errorf("client.%s may not create pool %q: %w", cfg.User, cfg.Pool, err)}
			}
			return nil, configError("creating pool %q: %w", cfg.Pool, err)
		}
		io, err = conn.OpenIOContext(cfg.Pool)
	}
	switch {
	case err == nil:
		io.SetNamespace(cfg.Namespace)
		return io, nil
	case isNotFound(err):
		return nil, configError("pool %q does not exist (create it, or set CreatePool)", cfg.Pool)
	}
	return nil, configError("opening pool %q: %w", cfg.Pool, err)
}

// Factory opens rados://pool[/namespace]?conf=...&user=...&keyring=... and
// a parameter map. See the package doc for every key.
var Factory = driver.Factory{
	Name:    Name,
	Summary: "Ceph RADOS through librados (cgo), striped into chunk objects",
	OpenURL: func(ctx context.Context, u *url.URL) (*driver.Store, error) {
		cfg, err := configFromURL(u)
		if err != nil {
			return nil, err
		}
		return New(ctx, cfg)
	},
	FromParameters: func(ctx context.Context, params map[string]any) (*driver.Store, error) {
		cfg, err := configFromParameters(params)
		if err != nil {
			return nil, err
		}
		return New(ctx, cfg)
	},
}
