// Package testenv gives tests the connection settings of the real servers
// that scripts/backends/up.sh starts (`make backends-up`): MinIO, a
// one-node Ceph serving RADOS, S3 and Swift through radosgw, and a one-node
// OpenStack Swift.
//
// up.sh writes the settings to backends.env at the repository root as
// KEY=value lines. Load reads that file and lets real environment variables
// override it, so a test can also be pointed at other servers by setting
// BERTH_* variables, and a backend can be switched off by setting its
// variable to the empty string. Require is what a test calls: it returns the
// values it needs, or skips the test with the reason, or, under CI=true,
// fails it, since a backend CI was meant to have but did not is a failure.
package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FileName is the settings file up.sh writes at the repository root.
const FileName = "backends.env"

// FileEnv, when set, names the settings file to read instead of the one
// found at the repository root.
const FileEnv = "BERTH_BACKENDS_ENV"

// UpCommand is what a developer runs to start the servers.
const UpCommand = "make backends-up"

// Keys that up.sh writes.
const (
	S3MinioEndpoint  = "BERTH_S3_MINIO_ENDPOINT"
	S3MinioAccessKey = "BERTH_S3_MINIO_ACCESS_KEY"
	S3MinioSecretKey = "BERTH_S3_MINIO_SECRET_KEY"
	S3MinioRegion    = "BERTH_S3_MINIO_REGION"

	S3RGWEndpoint  = "BERTH_S3_RGW_ENDPOINT"
	S3RGWAccessKey = "BERTH_S3_RGW_ACCESS_KEY"
	S3RGWSecretKey = "BERTH_S3_RGW_SECRET_KEY"
	S3RGWRegion    = "BERTH_S3_RGW_REGION"

	SwiftRGWAuthURL = "BERTH_SWIFT_RGW_AUTH_URL"
	SwiftRGWUser    = "BERTH_SWIFT_RGW_USER"
	SwiftRGWKey     = "BERTH_SWIFT_RGW_KEY"

	SwiftSAIOAuthURL    = "BERTH_SWIFT_SAIO_AUTH_URL"
	SwiftSAIOUser       = "BERTH_SWIFT_SAIO_USER"
	SwiftSAIOKey        = "BERTH_SWIFT_SAIO_KEY"
	SwiftSAIOTempURLKey = "BERTH_SWIFT_SAIO_TEMPURL_KEY" // the account's X-Account-Meta-Temp-URL-Key

	RadosConf    = "BERTH_RADOS_CONF"
	RadosKeyring = "BERTH_RADOS_KEYRING"
	RadosUser    = "BERTH_RADOS_USER"
	RadosPool    = "BERTH_RADOS_POOL"
)

// Key groups, for Require.
var (
	S3Minio   = []string{S3MinioEndpoint, S3MinioAccessKey, S3MinioSecretKey, S3MinioRegion}
	S3RGW     = []string{S3RGWEndpoint, S3RGWAccessKey, S3RGWSecretKey, S3RGWRegion}
	SwiftRGW  = []string{SwiftRGWAuthURL, SwiftRGWUser, SwiftRGWKey}
	SwiftSAIO = []string{SwiftSAIOAuthURL, SwiftSAIOUser, SwiftSAIOKey}
	Rados     = []string{RadosConf, RadosKeyring, RadosUser, RadosPool}
)

// prefix marks the environment variables Load takes even when the file does
// not name them.
const prefix = "BERTH_"

// env is what Load and Require read from the process: injected in tests.
type env struct {
	lookup  func(string) (string, bool)
	environ func() []string
	getwd   func() (string, error)
}

var osEnv = env{lookup: os.LookupEnv, environ: os.Environ, getwd: os.Getwd}

// Load returns the settings: the KEY=value lines of backends.env (found by
// walking up from the working directory to the directory holding go.mod, or
// named by BERTH_BACKENDS_ENV), overridden by environment variables of the
// same names, plus every BERTH_* environment variable. A missing file is not
// an error: the result then holds the environment's values alone.
func Load() (map[string]string, error) { return osEnv.load() }

func (e env) load() (map[string]string, error) {
	vals := map[string]string{}
	path, err := e.file()
	if err != nil {
		return nil, err
	}
	if path != "" {
		f, err := os.Open(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			vals, err = Parse(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("testenv: %s: %w", path, err)
			}
		}
	}
	for k := range vals {
		if v, ok := e.lookup(k); ok {
			vals[k] = v
		}
	}
	for _, kv := range e.environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, prefix) {
			vals[k] = v
		}
	}
	return vals, nil
}

// file returns the settings file's path, "" when there is no repository
// root above the working directory.
func (e env) file() (string, error) {
	if p, ok := e.lookup(FileEnv); ok && p != "" {
		return p, nil
	}
	dir, err := e.getwd()
	if err != nil {
		return "", err
	}
	root, ok := RepoRoot(dir)
	if !ok {
		return "", nil
	}
	return filepath.Join(root, FileName), nil
}

// RepoRoot walks up from dir to the first directory holding go.mod.
func RepoRoot(dir string) (string, bool) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// Parse reads shell-style KEY=value lines: blank lines and lines starting
// with # are skipped, an "export " prefix is allowed, and a value may be
// wrapped in single or double quotes (no escapes inside: up.sh writes none).
func Parse(r io.Reader) (map[string]string, error) {
	vals := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || !validKey(k) {
			return nil, fmt.Errorf("line %d: want KEY=value, got %q", n, sc.Text())
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		} else if strings.ContainsAny(v, "\"' \t") {
			return nil, fmt.Errorf("line %d: value of %s needs quoting: %q", n, k, v)
		}
		vals[k] = v
	}
	return vals, sc.Err()
}

func validKey(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Require returns the settings holding keys, every one of them non-empty.
// When some are missing it skips the test, naming them and the command that
// starts the servers; under CI=true it fails the test instead, because CI
// starts every backend and a test that would skip there tests nothing. A
// backends.env that cannot be read or parsed fails the test either way.
func Require(t testing.TB, keys ...string) map[string]string {
	t.Helper()
	return osEnv.require(t, keys...)
}

func (e env) require(t testing.TB, keys ...string) map[string]string {
	t.Helper()
	vals, err := e.load()
	if err != nil {
		t.Fatalf("testenv: %v", err)
		return nil
	}
	var missing []string
	for _, k := range keys {
		if vals[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return vals
	}
	slices.Sort(missing)
	msg := fmt.Sprintf("backend not configured: %s unset (start the servers with `%s`, which writes %s at the repository root, or set the variables)",
		strings.Join(missing, ", "), UpCommand, FileName)
	if ci, _ := e.lookup("CI"); ci == "true" {
		t.Fatalf("testenv: CI=true and %s", msg)
		return nil
	}
	t.Skip("testenv: " + msg)
	return nil
}

// ListenerFile listens on a free TCP port of 127.0.0.1 and returns the
// address and the file holding the listening socket, for a child process
// to serve on it (socket activation: pass it in ExtraFiles with
// LISTEN_FDS=1). The socket listens at once, so a client may connect
// before the child serves; the caller closes the file once the child has
// started.
func ListenerFile(tb testing.TB) (addr string, f *os.File) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	f, err = ln.(*net.TCPListener).File()
	ln.Close() // f holds the listening socket
	if err != nil {
		tb.Fatal(err)
	}
	return ln.Addr().String(), f
}
