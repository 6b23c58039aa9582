package distribution

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"

	"github.com/berthio/berth/driver"
)

// Backend is a distribution v3 storage driver (filesystem, s3-aws, azure,
// gcs, or a third party's) seen as a Berth driver.Backend, so that Berth's
// conformance suite and bench can run against it. It translates calls and
// errors and adds nothing: whatever the distribution driver does with
// concurrent writers, moves and deletes is what the suite sees.
type Backend struct {
	sd   storagedriver.StorageDriver
	name string
	caps driver.Capabilities
}

var (
	_ driver.Backend    = (*Backend)(nil)
	_ driver.Classifier = (*Backend)(nil)
)

// BackendOptions tunes NewBackend. The zero value, or nil, is usable.
type BackendOptions struct {
	// Name is the Berth driver name; default "dist-" + the distribution
	// driver's Name().
	Name string
	// Capabilities is what the wrapped driver is declared to keep. The
	// default is what a registry running several replicas needs and what
	// distribution's interface documents: strong listings, strict fencing,
	// shared across processes, no redirect.
	Capabilities *driver.Capabilities
}

// DefaultCapabilities is BackendOptions' default.
var DefaultCapabilities = driver.Capabilities{
	Listing: driver.Strong, Fencing: driver.FencingStrict, SharedAcrossProcesses: true,
}

// NewBackend wraps sd. opts may be nil.
func NewBackend(sd storagedriver.StorageDriver, opts *BackendOptions) *Backend {
	b := &Backend{sd: sd, name: "dist-" + sd.Name(), caps: DefaultCapabilities}
	if opts != nil {
		if opts.Name != "" {
			b.name = opts.Name
		}
		if opts.Capabilities != nil {
			b.caps = *opts.Capabilities
		}
	}
	return b
}

// Wrap returns sd as a Berth driver: NewBackend under a driver.Store.
func Wrap(sd storagedriver.StorageDriver, opts *BackendOptions) *driver.Store {
	return driver.NewStore(NewBackend(sd, opts))
}

// As sets target, a *storagedriver.StorageDriver, to the wrapped driver.
func (b *Backend) As(target any) bool {
	if p, ok := target.(*storagedriver.StorageDriver); ok {
		*p = b.sd
		return true
	}
	return false
}

// Name implements driver.Backend.
func (b *Backend) Name() string { return b.name }

// Capabilities implements driver.Backend.
func (b *Backend) Capabilities() driver.Capabilities { return b.caps }

// GetContent implements driver.Backend.
func (b *Backend) GetContent(ctx context.Context, path string) ([]byte, error) {
	return b.sd.GetContent(ctx, path)
}

// PutContent implements driver.Backend.
func (b *Backend) PutContent(ctx context.Context, path string, content []byte) error {
	return b.sd.PutContent(ctx, path, content)
}

// NewRangeReader implements driver.Backend with Reader(offset), cut at
// length. A zero length only checks the path and offset, with Stat.
func (b *Backend) NewRangeReader(ctx context.Context, path string, offset, length int64) (io.ReadCloser, error) {
	if length == 0 {
		fi, err := b.sd.Stat(ctx, path)
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			return nil, storagedriver.PathNotFoundError{Path: path, DriverName: b.sd.Name()}
		}
		if offset > fi.Size() {
			return nil, storagedriver.InvalidOffsetError{Path: path, Offset: offset, DriverName: b.sd.Name()}
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	rc, err := b.sd.Reader(ctx, path, offset)
	if err != nil || length < 0 {
		return rc, err
	}
	return limitedReadCloser{Reader: io.LimitReader(rc, length), Closer: rc}, nil
}

type limitedReadCloser struct {
	io.Reader
	io.Closer
}

// Writer implements driver.Backend: distribution's FileWriter has Berth's
// method set, so it is returned as it is.
func (b *Backend) Writer(ctx context.Context, path string, append bool) (driver.FileWriter, error) {
	return b.sd.Writer(ctx, path, append)
}

// Stat implements driver.Backend.
func (b *Backend) Stat(ctx context.Context, path string) (driver.FileInfo, error) {
	return b.sd.Stat(ctx, path)
}

// List implements driver.Backend.
func (b *Backend) List(ctx context.Context, path string) ([]string, error) {
	return b.sd.List(ctx, path)
}

// Move implements driver.Backend.
func (b *Backend) Move(ctx context.Context, sourcePath, destPath string) error {
	return b.sd.Move(ctx, sourcePath, destPath)
}

// Delete implements driver.Backend.
func (b *Backend) Delete(ctx context.Context, path string) error {
	return b.sd.Delete(ctx, path)
}

// RedirectURL implements driver.Backend.
func (b *Backend) RedirectURL(r *http.Request, path string) (string, error) {
	return b.sd.RedirectURL(r, path)
}

// Walk implements driver.Backend. Berth's ErrSkipDir and ErrFilledBuffer
// become distribution's; an error of fn comes back as fn returned it, also
// where the distribution driver wrapped it in its catch-all
// storagedriver.Error, which has no Unwrap.
func (b *Backend) Walk(ctx context.Context, path string, fn driver.WalkFn, opts driver.WalkOptions) error {
	var fnErr error
	err := b.sd.Walk(ctx, path, func(fi storagedriver.FileInfo) error {
		switch err := fn(fi); err {
		case nil:
			return nil
		case driver.ErrSkipDir:
			return storagedriver.ErrSkipDir
		case driver.ErrFilledBuffer:
			return storagedriver.ErrFilledBuffer
		default:
			fnErr = err
			return err
		}
	}, storagedriver.WithStartAfterHint(opts.StartAfterHint))
	if err == nil || fnErr == nil {
		return err
	}
	var ce storagedriver.Error
	if errors.Is(err, fnErr) || (errors.As(err, &ce) && ce.Detail == fnErr) {
		return fnErr
	}
	return err
}

// URLScheme is the scheme of Factory's URLs.
const URLScheme = "distribution"

// redirectKey is the one query key of a Factory URL that is Berth's, not a
// parameter of the distribution driver; distribution's keys are lowercase
// letters and digits, so it cannot clash.
const redirectKey = "berth.redirect"

// Factory opens distribution's drivers, as registered in this program with
// distribution's factory package (blank-import them), as Berth drivers:
//
//	distribution://filesystem?rootdirectory=/var/lib/registry
//	distribution://s3aws?bucket=b&region=us-east-1&regionendpoint=http://127.0.0.1:9000&forcepathstyle=true&accesskey=...&secretkey=...
//
// The host names the distribution driver, the query holds its parameters
// (each key once), and berth.redirect=true declares that the driver signs
// redirect URLs (CONTRACT 15). FromParameters takes the parameter map with
// the distribution driver's name under "driver".
var Factory = driver.Factory{
	Name:    URLScheme,
	Summary: "a distribution v3 storage driver compiled into this program, wrapped as a Berth driver",
	OpenURL: func(ctx context.Context, u *url.URL) (*driver.Store, error) {
		params := map[string]any{}
		caps := DefaultCapabilities
		for k, vs := range u.Query() {
			if len(vs) != 1 {
				return nil, driver.ConfigError(URLScheme, "parameter %q given %d times", k, len(vs))
			}
			if k == redirectKey {
				r, err := strconv.ParseBool(vs[0])
				if err != nil {
					return nil, driver.ConfigError(URLScheme, "%s: want true or false", redirectKey)
				}
				caps.Redirect = r
				continue
			}
			params[k] = vs[0]
		}
		return open(ctx, u.Host, params, caps)
	},
	FromParameters: func(ctx context.Context, params map[string]any) (*driver.Store, error) {
		rest := make(map[string]any, len(params))
		var name string
		for k, v := range params {
			if strings.EqualFold(k, "driver") {
				s, ok := v.(string)
				if !ok {
					return nil, driver.ConfigError(URLScheme, "parameter \"driver\": want a string, got %T", v)
				}
				name = s
				continue
			}
			rest[k] = v
		}
		return open(ctx, name, rest, DefaultCapabilities)
	},
}

func open(ctx context.Context, name string, params map[string]any, caps driver.Capabilities) (*driver.Store, error) {
	if name == "" {
		return nil, driver.ConfigError(URLScheme, "no distribution driver named (distribution://<driver>?<parameters>)")
	}
	sd, err := factory.Create(ctx, name, params)
	if err != nil {
		var unknown factory.InvalidStorageDriverError
		if errors.As(err, &unknown) {
			return nil, driver.ConfigError(URLScheme, "distribution driver %q is not compiled into this program", name)
		}
		// Drivers quote parameter values in their errors: credentials go.
		return nil, driver.ConfigError(URLScheme, "opening distribution driver %q: %s", name, redact(err.Error(), params))
	}
	return Wrap(sd, &BackendOptions{Capabilities: &caps}), nil
}

// redact replaces in msg the values of parameters whose names say they hold
// a credential.
func redact(msg string, params map[string]any) string {
	for k, v := range params {
		s, ok := v.(string)
		if !ok || len(s) < 4 {
			continue
		}
		lk := strings.ToLower(k)
		for _, w := range []string{"secret", "key", "password", "token", "credential", "sas"} {
			if strings.Contains(lk, w) {
				msg = strings.ReplaceAll(msg, s, "REDACTED")
				break
			}
		}
	}
	return msg
}
