package swift

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/ncw/swift/v2"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/objkey"
	"github.com/berthio/berth/internal/tlsconf"
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
	tlsCfg, err := tlsconf.Config(Name, cfg.CACertFile, cfg.InsecureSkipVerify)
	if err != nil {
		return nil, err
	}
	tr.TLSClientConfig = tlsCfg
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

// key, dirKey and path map driver paths to object names and back
// (objkey.Layout).
func (b *backend) key(p string) string    { return objkey.Layout(b.prefix).Key(p) }
func (b *backend) dirKey(p string) string { return objkey.Layout(b.prefix).Dir(p) }
func (b *backend) path(key string) string { return objkey.Layout(b.prefix).Path(key) }

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
var Factory = driver.ConfigFactory(Name, "OpenStack Swift and Swift-compatible servers (Ceph RGW)", New, configFromURL, configFromParameters)
