package oss

import (
	"net/url"
	"strings"
	"time"

	"github.com/berthio/berth/driver"
)

// Config configures an oss instance. The zero value of every field but
// Bucket and Region (or Endpoint) selects its default; Validate says what
// is wrong with the rest. A Config prints its credentials as REDACTED, so
// it can be logged whole.
type Config struct {
	// Bucket must exist; New never creates it.
	Bucket string
	// RootDirectory is the key prefix under which everything is stored, as
	// in distribution: "/registry" and "registry/" are both the prefix
	// "registry". Its components follow the path rule ([A-Za-z0-9._-]+).
	RootDirectory string

	// Region is the bucket's region, "cn-hangzhou" (distribution's form
	// "oss-cn-hangzhou" is accepted). V4 signatures name it, and without
	// an Endpoint it names the endpoint.
	Region string
	// Endpoint is the base URL of the OSS service, http:// or https://, no
	// credentials, no query: "https://oss-cn-hangzhou.aliyuncs.com", or a
	// local OSS-protocol server. Empty: https://oss-<Region>.aliyuncs.com,
	// or with Internal https://oss-<Region>-internal.aliyuncs.com (from
	// inside Aliyun's network, free of traffic charges).
	Endpoint string
	// Internal picks the internal endpoint when Endpoint is empty.
	Internal bool
	// Insecure makes a derived endpoint http:// (distribution's secure:
	// false). An explicit Endpoint carries its own scheme.
	Insecure bool
	// PathStyle addresses the bucket in the URL path (host/bucket/key)
	// instead of the host name (bucket.host/key). The SDK uses path style
	// by itself for an IP-address endpoint.
	PathStyle bool

	// AccessKeyID, AccessKeySecret and SecurityToken (STS) are the
	// credentials. When AccessKeyID is empty, OSS_ACCESS_KEY_ID,
	// OSS_ACCESS_KEY_SECRET and OSS_SESSION_TOKEN are read instead.
	AccessKeyID     string
	AccessKeySecret driver.Secret
	SecurityToken   driver.Secret
	// SignatureVersion is "v4" (default: OSS4-HMAC-SHA256, which needs
	// Region) or "v1" (HMAC-SHA1).
	SignatureVersion string

	// CACertFile names a PEM file of CA certificates trusted for the
	// endpoint, besides the system's. InsecureSkipVerify turns TLS
	// verification off (tests only).
	CACertFile         string
	InsecureSkipVerify bool

	// SSE is the server-side encryption asked for every object written:
	// "" (the bucket's default), "AES256", "KMS" or "SM4". SSEKMSKeyID is
	// the key of "KMS" (empty: the account's default key).
	SSE         string
	SSEKMSKeyID string

	// PartSize is the size of an upload's parts, all but the last. Default
	// DefaultPartSize, from MinPartSize (OSS's 100 KiB) to MaxPartSize.
	// A writer grows it for uploads that would not fit in MaxParts parts.
	PartSize int64
	// Concurrency is the parts one writer uploads at once, 1 to 64,
	// default DefaultConcurrency. A writer buffers at most PartSize x
	// Concurrency.
	Concurrency int

	// CopyThreshold: a Move of an object larger than this copies it part
	// by part with UploadPartCopy; smaller ones take one CopyObject.
	// Default and maximum DefaultCopyThreshold (1 GiB, CopyObject's limit
	// on OSS).
	CopyThreshold int64
	// CopyPartSize is the part size of such a copy, default
	// DefaultCopyPartSize; CopyConcurrency the parts copied at once, 1 to
	// 256, default DefaultCopyConcurrency.
	CopyPartSize    int64
	CopyConcurrency int

	// RedirectExpiry is how long a RedirectURL stays valid: 1s to 7 days
	// (V4's limit), default DefaultRedirectExpiry.
	RedirectExpiry time.Duration
	// DisableRedirect makes RedirectURL return "", so that the registry
	// serves blobs itself.
	DisableRedirect bool
}

// Defaults and limits of Config.
const (
	MinPartSize     int64 = 100 << 10 // OSS's smallest non-final part
	MaxPartSize     int64 = 5 << 30   // OSS's largest part
	DefaultPartSize int64 = 32 << 20
	MaxParts              = 10000 // OSS's part count limit per upload

	DefaultConcurrency = 4
	MaxConcurrency     = 64

	DefaultCopyThreshold   int64 = 1 << 30 // CopyObject's limit on OSS
	DefaultCopyPartSize    int64 = 128 << 20
	DefaultCopyConcurrency       = 8
	MaxCopyConcurrency           = 256

	DefaultRedirectExpiry = 20 * time.Minute
	MinRedirectExpiry     = time.Second
	MaxRedirectExpiry     = 7 * 24 * time.Hour

	SignatureV1 = "v1"
	SignatureV4 = "v4"

	SSEAES256 = "AES256"
	SSEKMS    = "KMS"
	SSESM4    = "SM4"
)

// The environment variables New reads for what Config leaves empty.
const (
	EnvAccessKeyID     = "OSS_ACCESS_KEY_ID"
	EnvAccessKeySecret = "OSS_ACCESS_KEY_SECRET"
	EnvSessionToken    = "OSS_SESSION_TOKEN"
	EnvRegion          = "OSS_REGION"
	EnvEndpoint        = "OSS_ENDPOINT"
)

// applyEnv fills the credentials (as a set: only when AccessKeyID is
// empty), Region and Endpoint from the OSS_* variables lookup returns.
func (c *Config) applyEnv(lookup func(string) (string, bool)) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	if c.AccessKeyID == "" && c.AccessKeySecret == "" && c.SecurityToken == "" {
		c.AccessKeyID = get(EnvAccessKeyID)
		c.AccessKeySecret = driver.Secret(get(EnvAccessKeySecret))
		c.SecurityToken = driver.Secret(get(EnvSessionToken))
	}
	if c.Region == "" {
		c.Region = get(EnvRegion)
	}
	if c.Endpoint == "" {
		c.Endpoint = get(EnvEndpoint)
	}
}

func (c *Config) setDefaults() {
	c.RootDirectory = c.prefix()
	c.Region = strings.TrimPrefix(c.Region, "oss-")
	if c.SignatureVersion == "" {
		c.SignatureVersion = SignatureV4
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.CopyThreshold == 0 {
		c.CopyThreshold = DefaultCopyThreshold
	}
	if c.CopyPartSize == 0 {
		c.CopyPartSize = DefaultCopyPartSize
	}
	if c.CopyConcurrency == 0 {
		c.CopyConcurrency = DefaultCopyConcurrency
	}
	if c.RedirectExpiry == 0 {
		c.RedirectExpiry = DefaultRedirectExpiry
	}
}

// endpoint is the Endpoint, or the one Region names.
func (c Config) endpoint() string {
	if c.Endpoint != "" {
		return strings.TrimSuffix(c.Endpoint, "/")
	}
	scheme, host := "https://", "oss-"+c.Region
	if c.Insecure {
		scheme = "http://"
	}
	if c.Internal {
		host += "-internal"
	}
	return scheme + host + ".aliyuncs.com"
}

// prefix is RootDirectory without leading or trailing '/'.
func (c Config) prefix() string { return strings.Trim(c.RootDirectory, "/") }

// Validate checks the configuration without any network call, file
// access or environment lookup. Zero values count as their defaults.
// Every problem is an ErrInvalidConfig error naming the field; no
// credential is ever echoed.
func (c Config) Validate() error {
	d := c
	d.setDefaults()
	if err := d.validateLocation(); err != nil {
		return err
	}
	if err := d.validateCredentials(); err != nil {
		return err
	}
	return d.validateSizes()
}

func (c Config) validateLocation() error {
	switch {
	case c.Bucket == "":
		return configError("Bucket is not set")
	case len(c.Bucket) < 3 || len(c.Bucket) > 63 || strings.ContainsFunc(c.Bucket, notBucketChar) ||
		c.Bucket[0] == '-' || c.Bucket[len(c.Bucket)-1] == '-':
		return configError("Bucket %q is not an OSS bucket name (3 to 63 of [a-z0-9-], not starting or ending with -)", c.Bucket)
	}
	if p := c.prefix(); p != "" && !driver.ValidPath("/"+p) {
		return configError("RootDirectory %q: components must be [A-Za-z0-9._-]+, not . or .., and not %s",
			c.RootDirectory, driver.InternalPrefix)
	}
	if strings.ContainsFunc(c.Region, notNameChar) {
		return configError("Region %q is not a region name ([A-Za-z0-9._-])", c.Region)
	}
	if c.Region == "" && (c.Endpoint == "" || c.SignatureVersion == SignatureV4) {
		return configError("Region is not set: V4 signatures and derived endpoints need it (cn-hangzhou, ...)")
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil:
			return configError("Endpoint is not a URL") // url.Parse's error quotes the string
		case u.User != nil:
			return configError("Endpoint must not hold credentials (user@ or user:password@); use AccessKeyID and AccessKeySecret")
		case u.Scheme != "http" && u.Scheme != "https":
			return configError("Endpoint %q: want an http:// or https:// URL", c.Endpoint)
		case u.Host == "":
			return configError("Endpoint %q has no host", c.Endpoint)
		case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.Trim(u.Path, "/") != "":
			return configError("Endpoint %q: want scheme://host[:port], no path, query or fragment", c.Endpoint)
		}
		if c.Internal || c.Insecure {
			return configError("Internal and Insecure apply to a derived endpoint; with Endpoint set, name the internal host and scheme in it")
		}
	}
	switch c.SSE {
	case "", SSEAES256, SSESM4:
		if c.SSEKMSKeyID != "" {
			return configError("SSEKMSKeyID is set, but SSE is %q, not %q", c.SSE, SSEKMS)
		}
	case SSEKMS:
	default:
		return configError("SSE %q: want \"\", %q, %q or %q", c.SSE, SSEAES256, SSEKMS, SSESM4)
	}
	return nil
}

func (c Config) validateCredentials() error {
	switch {
	case c.AccessKeyID == "":
		return configError("AccessKeyID is not set (nor %s)", EnvAccessKeyID)
	case c.AccessKeySecret == "":
		return configError("AccessKeySecret is not set (nor %s)", EnvAccessKeySecret)
	case strings.ContainsFunc(c.AccessKeyID, notPrintable):
		return configError("AccessKeyID holds blanks or control characters")
	case c.SignatureVersion != SignatureV1 && c.SignatureVersion != SignatureV4:
		return configError("SignatureVersion %q: want %q or %q", c.SignatureVersion, SignatureV4, SignatureV1)
	case c.CACertFile != "" && c.InsecureSkipVerify:
		return configError("CACertFile and InsecureSkipVerify exclude each other")
	case c.RedirectExpiry < MinRedirectExpiry || c.RedirectExpiry > MaxRedirectExpiry:
		return configError("RedirectExpiry %s: want %s to %s", c.RedirectExpiry, MinRedirectExpiry, MaxRedirectExpiry)
	}
	return nil
}

func (c Config) validateSizes() error {
	switch {
	case c.PartSize < MinPartSize || c.PartSize > MaxPartSize:
		return configError("PartSize %d: want %d (100 KiB) to %d (5 GiB)", c.PartSize, MinPartSize, MaxPartSize)
	case c.Concurrency < 1 || c.Concurrency > MaxConcurrency:
		return configError("Concurrency %d: want 1 to %d", c.Concurrency, MaxConcurrency)
	case c.CopyThreshold < 0 || c.CopyThreshold > DefaultCopyThreshold:
		return configError("CopyThreshold %d: want 1 to %d (1 GiB, CopyObject's limit)", c.CopyThreshold, DefaultCopyThreshold)
	case c.CopyPartSize < MinPartSize || c.CopyPartSize > MaxPartSize:
		return configError("CopyPartSize %d: want %d (100 KiB) to %d (5 GiB)", c.CopyPartSize, MinPartSize, MaxPartSize)
	case c.CopyConcurrency < 1 || c.CopyConcurrency > MaxCopyConcurrency:
		return configError("CopyConcurrency %d: want 1 to %d", c.CopyConcurrency, MaxCopyConcurrency)
	}
	return nil
}

func configError(format string, args ...any) error { return driver.ConfigError(Name, format, args...) }

func notBucketChar(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }

func notNameChar(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
}

func notPrintable(r rune) bool { return r <= ' ' || r == 0x7f }

// configFromURL decodes oss://bucket/root/dir?region=...&endpoint=...
// Credentials in the query are accepted but never echoed; the OSS_*
// environment is the better place.
func configFromURL(u *url.URL) (Config, error) {
	var cfg Config
	p, err := driver.URLParams(Name, u, "oss://bucket[/root/directory][?key=value...]", "access_key_id and access_key_secret, or the OSS_* environment")
	if err != nil {
		return cfg, err
	}
	cfg.Bucket, cfg.RootDirectory = u.Host, u.Path
	p.String("region", &cfg.Region)
	p.String("endpoint", &cfg.Endpoint)
	p.Bool("internal", &cfg.Internal)
	p.Bool("insecure", &cfg.Insecure)
	p.Bool("path_style", &cfg.PathStyle)
	p.String("access_key_id", &cfg.AccessKeyID)
	p.Secret("access_key_secret", &cfg.AccessKeySecret)
	p.Secret("security_token", &cfg.SecurityToken)
	p.String("signature_version", &cfg.SignatureVersion)
	p.String("ca_cert_file", &cfg.CACertFile)
	p.Bool("insecure_skip_verify", &cfg.InsecureSkipVerify)
	p.String("sse", &cfg.SSE)
	p.String("sse_kms_key_id", &cfg.SSEKMSKeyID)
	p.Int64("part_size", &cfg.PartSize)
	p.Int("concurrency", &cfg.Concurrency)
	p.Int64("copy_threshold", &cfg.CopyThreshold)
	p.Int64("copy_part_size", &cfg.CopyPartSize)
	p.Int("copy_concurrency", &cfg.CopyConcurrency)
	p.Duration("redirect_expiry", &cfg.RedirectExpiry)
	p.Bool("disable_redirect", &cfg.DisableRedirect)
	return cfg, p.Err()
}

// configFromParameters maps distribution's oss driver parameters onto a
// Config, strictly: an unknown key is an error.
func configFromParameters(params map[string]any) (Config, error) {
	var (
		cfg            Config
		encrypt        bool
		secure         = true
		endpoint, kmsK string
	)
	p := driver.NewParams(Name, params)
	p.String("accesskeyid", &cfg.AccessKeyID)
	p.Secret("accesskeysecret", &cfg.AccessKeySecret)
	p.String("region", &cfg.Region)
	p.String("endpoint", &endpoint)
	p.Bool("internal", &cfg.Internal)
	p.Bool("encrypt", &encrypt)
	p.String("encryptionkeyid", &kmsK)
	p.Bool("secure", &secure)
	p.Int64("chunksize", &cfg.PartSize)
	p.String("rootdirectory", &cfg.RootDirectory)
	p.String("bucket", &cfg.Bucket)
	// Berth's own keys, for what distribution has no name for.
	p.Secret("securitytoken", &cfg.SecurityToken)
	p.String("signatureversion", &cfg.SignatureVersion)
	p.Bool("pathstyle", &cfg.PathStyle)
	p.Bool("skipverify", &cfg.InsecureSkipVerify)
	p.String("cacertfile", &cfg.CACertFile)
	p.Int("concurrency", &cfg.Concurrency)
	p.Int64("copythreshold", &cfg.CopyThreshold)
	p.Int64("copypartsize", &cfg.CopyPartSize)
	p.Int("copyconcurrency", &cfg.CopyConcurrency)
	p.Duration("redirectexpiry", &cfg.RedirectExpiry)
	p.Bool("disableredirect", &cfg.DisableRedirect)
	if err := p.Err(); err != nil {
		return cfg, err
	}
	switch {
	case endpoint != "" && !strings.Contains(endpoint, "://"):
		// distribution's form: a bare host, its scheme set by secure.
		if secure {
			endpoint = "https://" + endpoint
		} else {
			endpoint = "http://" + endpoint
		}
	case endpoint == "" && !secure:
		cfg.Insecure = true
	}
	if endpoint != "" && cfg.Internal {
		// distribution uses the endpoint as given and ignores internal.
		cfg.Internal = false
	}
	cfg.Endpoint = endpoint
	switch {
	case encrypt && kmsK != "":
		cfg.SSE, cfg.SSEKMSKeyID = SSEKMS, kmsK
	case encrypt:
		cfg.SSE = SSEAES256
	case kmsK != "":
		return cfg, configError("parameter \"encryptionkeyid\" is set but encrypt is not true")
	}
	return cfg, nil
}
