package nasfs

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/berthio/berth/driver"
)

// Name is the registered driver name and URL scheme.
const Name = "nasfs"

// Config configures a nasfs instance.
type Config struct {
	// Root is the shared directory, absolute. It must exist and be writable;
	// nasfs never creates it, so a typo is an error, not a fresh empty store.
	Root string
	// WriteBufferSize is the bytes a writer gathers before handing them to
	// the kernel. Default 1 MiB; at least 4 KiB.
	WriteBufferSize int
}

// DefaultWriteBufferSize is Config.WriteBufferSize's default.
const DefaultWriteBufferSize = 1 << 20

func (c *Config) setDefaults() {
	if c.WriteBufferSize == 0 {
		c.WriteBufferSize = DefaultWriteBufferSize
	}
}

// Validate checks the configuration without touching the disk.
func (c Config) Validate() error {
	if c.Root == "" {
		return driver.ConfigError(Name, "root directory is not set")
	}
	if !filepath.IsAbs(c.Root) {
		return driver.ConfigError(Name, "root %q is not an absolute path", c.Root)
	}
	if c.WriteBufferSize != 0 && c.WriteBufferSize < 4<<10 {
		return driver.ConfigError(Name, "write buffer size %d is below 4096", c.WriteBufferSize)
	}
	return nil
}

// New opens an instance on cfg.Root. It checks that the root exists, is a
// directory and is writable (by creating and removing a probe file under
// the internal prefix) before returning.
func New(cfg Config) (*driver.Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fi, err := os.Stat(cfg.Root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, driver.ConfigError(Name, "root %q does not exist", cfg.Root)
	case errors.Is(err, fs.ErrPermission):
		return nil, &driver.Error{Driver: Name, Op: "Open", Path: cfg.Root, Kind: driver.ErrPermission, Err: err}
	case err != nil:
		return nil, driver.ConfigError(Name, "root %q: %v", cfg.Root, err)
	case !fi.IsDir():
		return nil, driver.ConfigError(Name, "root %q is not a directory", cfg.Root)
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return nil, &driver.Error{Driver: Name, Op: "Open", Path: cfg.Root, Kind: classify(err), Err: err}
	}
	b := &backend{cfg: cfg, root: root}
	if b.rootDir, err = root.Open("."); err != nil {
		root.Close()
		return nil, &driver.Error{Driver: Name, Op: "Open", Path: cfg.Root, Kind: classify(err), Err: err}
	}
	if err := b.probe(); err != nil {
		b.rootDir.Close()
		root.Close()
		return nil, &driver.Error{Driver: Name, Op: "Open", Path: cfg.Root, Kind: classify(err),
			Err: errors.New("root is not writable: " + err.Error())}
	}
	return driver.NewStore(b), nil
}

// Factory opens nasfs:///abs/path and distribution's filesystem parameters
// (rootdirectory; maxthreads is accepted and ignored: nasfs blocks no
// threads of its own).
var Factory = driver.Factory{
	Name:    Name,
	Summary: "POSIX directory shared by several processes or hosts (local disk, NFS)",
	OpenURL: func(_ context.Context, u *url.URL) (*driver.Store, error) {
		if u.Host != "" && u.Host != "localhost" {
			return nil, driver.ConfigError(Name, "want nasfs:///absolute/path (three slashes), got host %q", u.Host)
		}
		if u.RawQuery != "" || u.User != nil || u.Fragment != "" {
			return nil, driver.ConfigError(Name, "nasfs URLs take no user, query or fragment")
		}
		return New(Config{Root: u.Path})
	},
	FromParameters: func(_ context.Context, params map[string]any) (*driver.Store, error) {
		p := driver.NewParams(Name, params)
		var cfg Config
		p.String("rootdirectory", &cfg.Root)
		p.Int("writebuffersize", &cfg.WriteBufferSize)
		p.Ignore("maxthreads")
		if err := p.Err(); err != nil {
			return nil, err
		}
		return New(cfg)
	},
}
