package swift

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ncw/swift/v2"

	"github.com/berthio/berth/driver"
)

// Name is the registered driver name and URL scheme.
const Name = "swift"

// probeTimeout bounds New's authentication and container check.
var probeTimeout = 15 * time.Second

// backend translates driver calls to Swift requests.
type backend struct {
	cfg    Config
	conn   *swift.Connection
	prefix string // RootDirectory without leading or trailing '/'
}

var _ driver.Backend = (*backend)(nil)

func (b *backend) Name() string { return Name }

// Capabilities: Swift's container listings are updated asynchronously
// (Eventual), and no Swift server offers a conditional write that a
// racing second writer cannot also win, so fencing is best-effort.
func (b *backend) Capabilities() driver.Capabilities {
	return driver.Capabilities{
		Listing:               driver.Eventual,
		Fencing:               driver.FencingBestEffort,
		Redirect:              b.cfg.TempURLKey != "",
		MaxObjectSize:         MaxObjectSize,
		SharedAcrossProcesses: true,
	}
}

// New opens an instance on cfg.Container. It validates cfg without the
// network, authenticates and checks both containers (no retries, bounded
// by 15 s), so that a wrong configuration fails here: unreachable auth
// URL, missing or refused container are ErrInvalidConfig, refused
// credentials ErrPermission. No error holds a secret. With AuthURL empty
// the OS_* environment supplies the credentials (see Config.ApplyEnv).
func New(ctx context.Context, cfg Config) (*driver.Store, error) {
	if cfg.AuthURL == "" {
		if err := cfg.ApplyEnv(os.LookupEnv); err != nil {
			return nil, err
		}
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var tr http.RoundTripper = cfg.Transport
	if tr == nil {
		t, err := newTransport(cfg)
		if err != nil {
			return nil, err
		}
		tr = t
	}
	c := &swift.Connection{
		AuthUrl: cfg.AuthURL, AuthVersion: cfg.AuthVersion,
		UserName: cfg.Username, UserId: cfg.UserID, ApiKey: cfg.Key.Reveal(),
		Domain: cfg.Domain, DomainId: cfg.DomainID,
		Tenant: cfg.Tenant, TenantId: cfg.TenantID, TenantDomain: cfg.TenantDomain, TenantDomainId: cfg.TenantDomainID,
		TrustId: cfg.TrustID, Region: cfg.Region, EndpointType: swift.EndpointType(cfg.EndpointType),
		ConnectTimeout: cfg.ConnectTimeout, Timeout: cfg.Timeout, Transport: tr,
		UserAgent: "berth-swift/1",
	}
	b := &backend{cfg: cfg, conn: c, prefix: cfg.prefix()}
	if err := b.probe(ctx); err != nil {
		return nil, err
	}
	return driver.NewStore(b), nil
}

func newTransport(cfg Config) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 128
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
	if cfg.CACertFile != "" {
		pem, err := os.ReadFile(cfg.CACertFile)
		if err != nil {
			return nil, configError("CACertFile: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, configError("CACertFile %q holds no PEM certificate", cfg.CACertFile)
		}
		tr.TLSClientConfig.RootCAs = roots
	}
	return tr, nil
}

// probe authenticates and checks the containers.
func (b *backend) probe(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	fail := func(err error) error {
		if ctx.Err() != nil {
			return &driver.Error{Driver: Name, Op: "Open", Err: err}
		}
		return nil
	}
	where := "auth URL " + b.cfg.AuthURL
	if err := b.conn.Authenticate(pctx); err != nil {
		if e := fail(err); e != nil {
			return e
		}
		switch status := statusOf(err); {
		case status == 401 || status == 403:
			return &driver.Error{Driver: Name, Op: "Open", Kind: driver.ErrPermission,
				Err: fmt.Errorf("%s refused the credentials of user %q: check Username and Key: %w", where, b.cfg.Username, err)}
		case status == 0 && errors.Is(err, context.DeadlineExceeded):
			return configError("cannot reach %s: no answer within %s", where, probeTimeout)
		case status == 0 && isNetError(err):
			return configError("cannot reach %s: %w", where, err)
		}
		return configError("authenticating at %s: %w", where, err)
	}
	for _, name := range []string{b.cfg.Container, b.cfg.SegmentContainer} {
		_, _, err := b.conn.Container(pctx, name)
		if err == nil {
			continue
		}
		if e := fail(err); e != nil {
			return e
		}
		switch statusOf(err) {
		case 404:
			return configError("container %q does not exist at %s (New never creates it)", name, b.conn.StorageUrl)
		case 400, 412:
			return configError("container name %q is refused by the server at %s: %w", name, b.conn.StorageUrl, err)
		case 401, 403:
			return &driver.Error{Driver: Name, Op: "Open", Kind: driver.ErrPermission,
				Err: fmt.Errorf("%s refused access to container %q: %w", b.conn.StorageUrl, name, err)}
		}
		return configError("checking container %q at %s: %w", name, b.conn.StorageUrl, err)
	}
	return nil
}

func isNetError(err error) bool {
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue)
}

// key maps a driver path to an object name.
func (b *backend) key(p string) string {
	if b.prefix == "" {
		return strings.TrimPrefix(p, "/")
	}
	if p == "/" {
		return b.prefix
	}
	return b.prefix + p
}

// dirKey is the name prefix of everything below directory p.
func (b *backend) dirKey(p string) string {
	if p == "/" {
		if b.prefix == "" {
			return ""
		}
		return b.prefix + "/"
	}
	return b.key(p) + "/"
}

// path maps an object name back to a driver path.
func (b *backend) path(key string) string {
	return "/" + strings.TrimPrefix(strings.TrimPrefix(key, b.prefix), "/")
}

// internal is the object name of a path under the internal prefix.
func (b *backend) internal(rel string) string { return b.key(driver.InternalPrefix + "/" + rel) }

func randomID() string {
	var r [8]byte
	rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// As is the escape hatch behind Store.As: target may be a
// **swift.Connection (ncw/swift/v2).
func (b *backend) As(target any) bool {
	if t, ok := target.(**swift.Connection); ok {
		*t = b.conn
		return true
	}
	return false
}

// Factory opens swift://container/root/dir?auth_url=...&user=...&key=...
// and distribution's swift parameter map. See the package doc.
var Factory = driver.Factory{
	Name:    Name,
	Summary: "OpenStack Swift and Swift-compatible servers (Ceph RGW)",
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
