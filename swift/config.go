package swift

import (
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berthio/berth/driver"
)

// Config configures a swift instance. The zero value of every field but
// AuthURL, Username, Key and Container selects its default; Validate says
// what is wrong with the rest. A Config prints its secrets as REDACTED.
type Config struct {
	// AuthURL is the identity endpoint: a tempauth or Swift v1 URL
	// (.../auth/v1.0), or Keystone's (.../v2.0, .../v3).
	AuthURL string
	// AuthVersion is 1, 2 or 3; 0 guesses it from AuthURL, as the
	// OpenStack clients do.
	AuthVersion int
	// Username and Key are the credentials (v1: "account:user" and the
	// key; Keystone: the user name and password). UserID may replace
	// Username under v3.
	Username string
	UserID   string
	Key      driver.Secret
	// Domain or DomainID is the user's domain (v3).
	Domain   string
	DomainID string
	// Tenant or TenantID names the project (v2 tenant, v3 project);
	// TenantDomain or TenantDomainID its domain when it is not the user's.
	Tenant         string
	TenantID       string
	TenantDomain   string
	TenantDomainID string
	// TrustID scopes a v3 token to a trust.
	TrustID string
	// Region picks the object-store endpoint of the catalogue (v2, v3);
	// empty takes the first. EndpointType is "public" (default),
	// "internal" or "admin".
	Region       string
	EndpointType string

	// Container holds the data; it must exist (New never creates it).
	Container string
	// RootDirectory is the object-name prefix under which everything is
	// stored: "/registry" and "registry/" are both "registry".
	RootDirectory string
	// SegmentContainer holds the segments of large objects; default
	// Container (segments then live under the internal prefix). It must
	// exist.
	SegmentContainer string

	// ChunkSize is the size of a large object's segments, all but the
	// last. Default DefaultChunkSize, MinChunkSize to MaxChunkSize. It grows
	// for uploads whose declared size needs more than MaxSegments segments.
	ChunkSize int64
	// Concurrency is the segments one writer uploads at once, 1 to 64,
	// default DefaultConcurrency. A writer buffers at most ChunkSize x
	// Concurrency.
	Concurrency int

	// TempURLKey is the account's (or, with TempURLContainerKey, the
	// container's) X-*-Meta-Temp-URL-Key. Empty: RedirectURL returns "".
	TempURLKey          driver.Secret
	TempURLContainerKey bool
	// TempURLMethods are the request methods RedirectURL signs; default
	// GET and HEAD. Others get "".
	TempURLMethods []string
	// RedirectExpiry is how long a TempURL stays valid: default 20m, 1s to
	// 7 days.
	RedirectExpiry time.Duration

	// CACertFile names PEM CAs trusted besides the system's.
	// InsecureSkipVerify turns TLS verification off (tests only).
	CACertFile         string
	InsecureSkipVerify bool

	// ConnectTimeout bounds connecting and each request's wait for the
	// first byte of an answer (default 10s); Timeout bounds a stalled
	// transfer (default 60s).
	ConnectTimeout time.Duration
	Timeout        time.Duration

	// Transport, if set, carries every request instead of the transport
	// New builds (CACertFile and InsecureSkipVerify then do not apply):
	// for a caller that dials through its own proxy or dialer. It has no
	// URL or parameter form.
	Transport http.RoundTripper `json:"-"`
}

// Defaults and limits of Config.
const (
	MinChunkSize     int64 = 1 << 20
	MaxChunkSize     int64 = 5 << 30 // Swift's and RGW's largest object
	DefaultChunkSize int64 = 32 << 20
	// MaxSegments is the largest segment count of one manifest
	// (max_manifest_segments on Swift, rgw_max_slo_entries on RGW).
	MaxSegments = 1000

	DefaultConcurrency = 4
	MaxConcurrency     = 64

	DefaultRedirectExpiry = 20 * time.Minute
	MinRedirectExpiry     = time.Second
	MaxRedirectExpiry     = 7 * 24 * time.Hour

	DefaultConnectTimeout = 10 * time.Second
	DefaultTimeout        = 60 * time.Second
)

// MaxObjectSize is the largest object a writer makes: MaxSegments segments
// of MaxChunkSize.
const MaxObjectSize = MaxSegments * MaxChunkSize

var endpointTypes = []string{"public", "internal", "admin"}

func (c *Config) setDefaults() {
	c.RootDirectory = c.prefix()
	if c.SegmentContainer == "" {
		c.SegmentContainer = c.Container
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if len(c.TempURLMethods) == 0 {
		c.TempURLMethods = []string{"GET", "HEAD"}
	}
	if c.RedirectExpiry == 0 {
		c.RedirectExpiry = DefaultRedirectExpiry
	}
	if c.EndpointType == "" {
		c.EndpointType = "public"
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.AuthVersion == 0 {
		c.AuthVersion = guessAuthVersion(c.AuthURL)
	}
}

// guessAuthVersion reads the version from the URL as the OpenStack clients
// do: .../v3 is 3, .../v2.0 is 2, anything else 1.
func guessAuthVersion(u string) int {
	u = strings.TrimRight(u, "/")
	switch {
	case strings.HasSuffix(u, "v3"):
		return 3
	case strings.HasSuffix(u, "v2.0"):
		return 2
	}
	return 1
}

func (c Config) prefix() string { return strings.Trim(c.RootDirectory, "/") }

// Validate checks the configuration without any network call. Zero values
// count as their defaults. Every problem is an ErrInvalidConfig error naming
// the field; no secret is echoed.
func (c Config) Validate() error {
	d := c
	d.setDefaults()
	if err := d.validateAuth(); err != nil {
		return err
	}
	return d.validateStorage()
}

func (c Config) validateAuth() error {
	if c.AuthURL == "" {
		return configError("AuthURL is not set (nor OS_AUTH_URL)")
	}
	u, err := url.Parse(c.AuthURL)
	switch {
	case err != nil:
		return configError("AuthURL is not a URL") // url.Parse quotes it whole
	case u.User != nil:
		return configError("AuthURL must not hold credentials; use Username and Key")
	case u.Scheme != "http" && u.Scheme != "https":
		return configError("AuthURL %q: want an http:// or https:// URL", c.AuthURL)
	case u.Host == "":
		return configError("AuthURL %q has no host", c.AuthURL)
	case u.RawQuery != "" || u.Fragment != "":
		return configError("AuthURL %q: want no query or fragment", c.AuthURL)
	}
	switch {
	case c.AuthVersion < 1 || c.AuthVersion > 3:
		return configError("AuthVersion %d: want 1, 2 or 3 (0 guesses from AuthURL)", c.AuthVersion)
	case c.Username == "" && c.UserID == "":
		return configError("Username is not set (nor OS_USERNAME)")
	case c.UserID != "" && c.AuthVersion != 3:
		return configError("UserID needs AuthVersion 3")
	case c.Key == "":
		return configError("Key is not set (nor OS_PASSWORD)")
	case strings.ContainsFunc(c.Username, notPrintable):
		return configError("Username holds blanks or control characters")
	case c.AuthVersion != 3 && (c.Domain != "" || c.DomainID != "" || c.TenantDomain != "" || c.TenantDomainID != "" || c.TrustID != ""):
		return configError("Domain, DomainID, TenantDomain, TenantDomainID and TrustID need AuthVersion 3")
	case c.AuthVersion == 1 && (c.Tenant != "" || c.TenantID != "" || c.Region != ""):
		return configError("Tenant, TenantID and Region need AuthVersion 2 or 3 (v1 has no catalogue)")
	case !slices.Contains(endpointTypes, c.EndpointType):
		return configError("EndpointType %q: want one of %v", c.EndpointType, endpointTypes)
	case c.CACertFile != "" && c.InsecureSkipVerify:
		return configError("CACertFile and InsecureSkipVerify exclude each other")
	}
	return nil
}

func (c Config) validateStorage() error {
	for _, f := range []struct{ name, v string }{{"Container", c.Container}, {"SegmentContainer", c.SegmentContainer}} {
		switch {
		case f.v == "":
			return configError("%s is not set", f.name)
		case len(f.v) > 256 || strings.ContainsAny(f.v, "/") || strings.ContainsFunc(f.v, notPrintable):
			return configError("%s %q: want 1 to 256 bytes, no '/', blanks or control characters", f.name, f.v)
		}
	}
	if p := c.prefix(); p != "" && !driver.ValidPath("/"+p) {
		return configError("RootDirectory %q: components must be [A-Za-z0-9._-]+, not . or .., and not %s",
			c.RootDirectory, driver.InternalPrefix)
	}
	switch {
	case c.ChunkSize < MinChunkSize || c.ChunkSize > MaxChunkSize:
		return configError("ChunkSize %d: want %d (1 MiB) to %d (5 GiB)", c.ChunkSize, MinChunkSize, MaxChunkSize)
	case c.Concurrency < 1 || c.Concurrency > MaxConcurrency:
		return configError("Concurrency %d: want 1 to %d", c.Concurrency, MaxConcurrency)
	case c.RedirectExpiry < MinRedirectExpiry || c.RedirectExpiry > MaxRedirectExpiry:
		return configError("RedirectExpiry %s: want %s to %s", c.RedirectExpiry, MinRedirectExpiry, MaxRedirectExpiry)
	case c.ConnectTimeout < 0 || c.Timeout < 0:
		return configError("ConnectTimeout and Timeout must not be negative")
	}
	for _, m := range c.TempURLMethods {
		if !slices.Contains([]string{"GET", "HEAD", "PUT", "POST", "DELETE"}, m) {
			return configError("TempURLMethods: %q is not GET, HEAD, PUT, POST or DELETE", m)
		}
	}
	return nil
}

// ApplyEnv fills the empty authentication fields from the variables the
// OpenStack clients read (lookup is os.LookupEnv for the process
// environment): OS_AUTH_URL, OS_IDENTITY_API_VERSION, OS_USERNAME,
// OS_USER_ID, OS_PASSWORD, OS_USER_DOMAIN_NAME, OS_USER_DOMAIN_ID,
// OS_PROJECT_NAME (or OS_TENANT_NAME), OS_PROJECT_ID (or OS_TENANT_ID),
// OS_PROJECT_DOMAIN_NAME, OS_PROJECT_DOMAIN_ID, OS_TRUST_ID,
// OS_REGION_NAME, OS_INTERFACE (or OS_ENDPOINT_TYPE, "publicURL" style
// accepted), and the v1 names ST_AUTH, ST_USER, ST_KEY. A set field is
// never overridden.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	get := func(names ...string) string {
		for _, n := range names {
			if v, ok := lookup(n); ok && v != "" {
				return v
			}
		}
		return ""
	}
	fill := func(dst *string, names ...string) {
		if *dst == "" {
			*dst = get(names...)
		}
	}
	fill(&c.AuthURL, "OS_AUTH_URL", "ST_AUTH")
	fill(&c.Username, "OS_USERNAME", "ST_USER")
	fill(&c.UserID, "OS_USER_ID")
	if c.Key == "" {
		c.Key = driver.Secret(get("OS_PASSWORD", "ST_KEY"))
	}
	fill(&c.Domain, "OS_USER_DOMAIN_NAME")
	fill(&c.DomainID, "OS_USER_DOMAIN_ID")
	fill(&c.Tenant, "OS_PROJECT_NAME", "OS_TENANT_NAME")
	fill(&c.TenantID, "OS_PROJECT_ID", "OS_TENANT_ID")
	fill(&c.TenantDomain, "OS_PROJECT_DOMAIN_NAME")
	fill(&c.TenantDomainID, "OS_PROJECT_DOMAIN_ID")
	fill(&c.TrustID, "OS_TRUST_ID")
	fill(&c.Region, "OS_REGION_NAME")
	if c.EndpointType == "" {
		c.EndpointType = strings.TrimSuffix(get("OS_INTERFACE", "OS_ENDPOINT_TYPE"), "URL")
	}
	if c.AuthVersion == 0 {
		if v := strings.TrimPrefix(get("OS_IDENTITY_API_VERSION", "ST_AUTH_VERSION"), "v"); v != "" {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return configError("OS_IDENTITY_API_VERSION %q: want 1, 2 or 3", v)
			}
			c.AuthVersion = int(n)
		}
	}
	return nil
}

// configFromURL decodes swift://container/root/dir?auth_url=...&user=...
// Without auth_url, the OS_* environment supplies the credentials.
func configFromURL(u *url.URL) (Config, error) {
	var cfg Config
	p, err := driver.URLParams(Name, u, "swift://container[/root/directory][?key=value...]", "user and key, or the OS_* environment")
	if err != nil {
		return cfg, err
	}
	cfg.Container, cfg.RootDirectory = u.Host, u.Path
	var methods string
	p.String("auth_url", &cfg.AuthURL)
	p.Int("auth_version", &cfg.AuthVersion)
	p.String("user", &cfg.Username)
	p.String("user_id", &cfg.UserID)
	p.Secret("password", &cfg.Key)
	p.String("domain", &cfg.Domain)
	p.String("domain_id", &cfg.DomainID)
	p.String("tenant", &cfg.Tenant)
	p.String("tenant_id", &cfg.TenantID)
	p.String("tenant_domain", &cfg.TenantDomain)
	p.String("tenant_domain_id", &cfg.TenantDomainID)
	p.String("trust_id", &cfg.TrustID)
	p.String("region", &cfg.Region)
	p.String("endpoint_type", &cfg.EndpointType)
	p.String("segment_container", &cfg.SegmentContainer)
	p.Int64("chunk_size", &cfg.ChunkSize)
	p.Int("concurrency", &cfg.Concurrency)
	p.Secret("tempurl_key", &cfg.TempURLKey)
	p.Bool("tempurl_container_key", &cfg.TempURLContainerKey)
	p.String("tempurl_methods", &methods)
	p.Duration("redirect_expiry", &cfg.RedirectExpiry)
	p.String("ca_cert_file", &cfg.CACertFile)
	p.Bool("insecure_skip_verify", &cfg.InsecureSkipVerify)
	p.Duration("connect_timeout", &cfg.ConnectTimeout)
	p.Duration("timeout", &cfg.Timeout)
	if methods != "" {
		cfg.TempURLMethods = strings.Split(strings.ToUpper(methods), ",")
	}
	if err := p.Err(); err != nil {
		return cfg, err
	}
	if cfg.AuthURL == "" {
		if err := cfg.ApplyEnv(os.LookupEnv); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// configFromParameters maps distribution's swift driver parameters onto a
// Config, strictly: an unknown key is an error.
func configFromParameters(params map[string]any) (Config, error) {
	var (
		cfg     Config
		methods any
		secret  driver.Secret
	)
	p := driver.NewParams(Name, params)
	p.String("authurl", &cfg.AuthURL)
	p.Int("authversion", &cfg.AuthVersion)
	p.String("username", &cfg.Username)
	p.String("userid", &cfg.UserID)
	p.Secret("password", &cfg.Key)
	p.String("domain", &cfg.Domain)
	p.String("domainid", &cfg.DomainID)
	p.String("tenant", &cfg.Tenant)
	p.String("tenantid", &cfg.TenantID)
	p.String("tenantdomain", &cfg.TenantDomain)
	p.String("tenantdomainid", &cfg.TenantDomainID)
	p.String("trustid", &cfg.TrustID)
	p.String("region", &cfg.Region)
	p.String("endpointtype", &cfg.EndpointType)
	p.String("container", &cfg.Container)
	p.String("prefix", &cfg.RootDirectory)
	p.Int64("chunksize", &cfg.ChunkSize)
	p.Bool("insecureskipverify", &cfg.InsecureSkipVerify)
	p.Secret("secretkey", &secret) // distribution's TempURL key
	p.Bool("tempurlcontainerkey", &cfg.TempURLContainerKey)
	for k, v := range params {
		if strings.EqualFold(k, "tempurlmethods") {
			methods = v
		}
	}
	p.Ignore("tempurlmethods", "accesskey") // accesskey: HP Cloud's, long gone
	// Berth's own keys.
	p.String("segmentcontainer", &cfg.SegmentContainer)
	p.Int("concurrency", &cfg.Concurrency)
	p.String("cacertfile", &cfg.CACertFile)
	p.Duration("redirectexpiry", &cfg.RedirectExpiry)
	p.Duration("connecttimeout", &cfg.ConnectTimeout)
	p.Duration("timeout", &cfg.Timeout)
	if err := p.Err(); err != nil {
		return cfg, err
	}
	cfg.TempURLKey = secret
	switch m := methods.(type) {
	case nil:
	case string:
		cfg.TempURLMethods = strings.Split(strings.ToUpper(m), ",")
	case []string:
		for _, s := range m {
			cfg.TempURLMethods = append(cfg.TempURLMethods, strings.ToUpper(s))
		}
	case []any:
		for _, s := range m {
			str, ok := s.(string)
			if !ok {
				return cfg, configError("parameter \"tempurlmethods\": want a list of method names")
			}
			cfg.TempURLMethods = append(cfg.TempURLMethods, strings.ToUpper(str))
		}
	default:
		return cfg, configError("parameter \"tempurlmethods\": want a list of method names, got %T", methods)
	}
	return cfg, nil
}

func configError(format string, args ...any) error { return driver.ConfigError(Name, format, args...) }

func notPrintable(r rune) bool { return r <= ' ' || r == 0x7f }
