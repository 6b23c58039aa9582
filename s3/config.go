package s3

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/berthio/berth/driver"
)

// Config configures an s3 instance. The zero value of every field but
// Bucket selects its default; Validate says what is wrong with the rest.
// A Config prints its credentials as REDACTED, so it can be logged whole.
type Config struct {
	// Bucket must exist; New never creates it.
	Bucket string
	// RootDirectory is the key prefix under which everything is stored, as
	// in distribution: "/registry" and "registry/" are both the prefix
	// "registry". Its components follow the path rule ([A-Za-z0-9._-]+).
	RootDirectory string

	// Region signs the requests. Default DefaultRegion; MinIO and Ceph RGW
	// accept it whatever their own region is called.
	Region string
	// Endpoint is the base URL of an S3-compatible server (MinIO, Ceph RGW,
	// ...): http:// or https://, no credentials, no query. Empty is AWS.
	Endpoint string
	// PathStyle addresses the bucket in the URL path (host/bucket/key)
	// instead of the host name (bucket.host/key). MinIO and RGW want it.
	PathStyle bool

	// AccessKey, SecretKey and SessionToken are static credentials. When
	// AccessKey is empty, the SDK's default chain is used instead (AWS_*
	// environment, shared config and credentials files, web identity, ECS
	// and EC2 roles), which is the better place for a secret.
	AccessKey    string
	SecretKey    driver.Secret
	SessionToken driver.Secret

	// CACertFile names a PEM file of CA certificates trusted for the
	// endpoint, besides the system's.
	CACertFile string
	// InsecureSkipVerify turns TLS certificate verification off. For tests
	// only; verification is on by default.
	InsecureSkipVerify bool

	// SSE is the server-side encryption asked for every object written:
	// "" (the bucket's default), "AES256" or "aws:kms".
	SSE string
	// SSEKMSKeyID is the KMS key of SSE "aws:kms"; empty uses the account's
	// default key. Refused with any other SSE.
	SSEKMSKeyID string
	// StorageClass is set on every object written: "" leaves it to the
	// server, otherwise one of the SDK's types.StorageClass values, except
	// the classes that need a restore before a read (GLACIER, DEEP_ARCHIVE).
	StorageClass string
	// ObjectACL is a canned ACL set on every object written ("private",
	// "bucket-owner-full-control", ...); "" sends none, which suits buckets
	// whose ACLs are disabled.
	ObjectACL string

	// PartSize is the size of an upload's parts, all but the last. Default
	// DefaultPartSize, from MinPartSize to MaxPartSize. A writer grows it
	// for uploads that would not fit in MaxParts parts.
	PartSize int64
	// Concurrency is the parts one writer uploads at once, 1 to 64, default
	// DefaultConcurrency. A writer buffers at most PartSize x Concurrency.
	Concurrency int

	// CopyThreshold: a Move of an object larger than this copies it part by
	// part with UploadPartCopy; smaller ones take one CopyObject (which Ceph
	// RGW serves without copying the data). Default and maximum
	// DefaultCopyThreshold (5 GiB, CopyObject's limit).
	CopyThreshold int64
	// CopyPartSize is the part size of such a copy, MinPartSize to
	// MaxPartSize, default DefaultCopyPartSize.
	CopyPartSize int64
	// CopyConcurrency is the parts copied at once, 1 to 256, default
	// DefaultCopyConcurrency.
	CopyConcurrency int
	// ReadChunkSize and ReadConcurrency shape reads of large objects: with
	// ReadConcurrency above 1, up to that many ranged GETs of ReadChunkSize
	// in flight, delivered in order, all pinned to one version of the object
	// with If-Match; a reader then buffers ReadChunkSize x ReadConcurrency.
	// Default 1: one plain GET, which was as fast or faster on MinIO and
	// RGW next to the client (BenchmarkStream); read-ahead pays off on
	// links with more latency. ReadChunkSize defaults to 8 MiB.
	ReadChunkSize   int64
	ReadConcurrency int

	// ChecksumMode maps to the SDK's RequestChecksumCalculation and
	// ResponseChecksumValidation: "when_required" (default: checksums only
	// where an operation demands one, which every S3-compatible server
	// accepts) or "when_supported" (CRC32 on every upload, validated on
	// download where the server sends one).
	ChecksumMode string

	// CommitMode is how Commit completes a multipart upload: "auto"
	// (default: probe the server once, at the first multipart upload of
	// the instance), "direct" (complete it at the path with the recorded
	// parts only, which MinIO and AWS accept) or "staged" (complete it at a
	// staging key with every part the server holds, then copy the recorded
	// parts' bytes to the path on the server: for servers such as Ceph RGW
	// that refuse a completion leaving any uploaded part out).
	CommitMode string

	// RedirectExpiry is how long a RedirectURL stays valid: 1s to 7 days
	// (SigV4's limit), default DefaultRedirectExpiry.
	RedirectExpiry time.Duration
	// DisableRedirect makes RedirectURL return "", so that the registry
	// serves blobs itself (when clients cannot reach Endpoint).
	DisableRedirect bool
}

// Defaults and limits of Config.
const (
	DefaultRegion = "us-east-1"

	MinPartSize     int64 = 5 << 20 // S3's smallest non-final part
	MaxPartSize     int64 = 5 << 30 // S3's largest part
	DefaultPartSize int64 = 32 << 20
	MaxParts              = 10000 // S3's part count limit per upload

	DefaultConcurrency = 4
	MaxConcurrency     = 64

	DefaultCopyThreshold   int64 = 5 << 30 // CopyObject's limit
	DefaultCopyPartSize    int64 = 128 << 20
	DefaultCopyConcurrency       = 8
	DefaultReadChunkSize   int64 = 8 << 20
	DefaultReadConcurrency       = 1
	MaxCopyConcurrency           = 256

	CommitAuto   = "auto"
	CommitDirect = "direct"
	CommitStaged = "staged"

	ChecksumWhenRequired  = "when_required"
	ChecksumWhenSupported = "when_supported"

	DefaultRedirectExpiry = 20 * time.Minute
	MinRedirectExpiry     = time.Second
	MaxRedirectExpiry     = 7 * 24 * time.Hour

	SSEAES256 = "AES256"
	SSEKMS    = "aws:kms"
)

func (c *Config) setDefaults() {
	c.RootDirectory = c.prefix()
	if c.Region == "" {
		c.Region = DefaultRegion
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
	if c.ReadChunkSize == 0 {
		c.ReadChunkSize = DefaultReadChunkSize
	}
	if c.ReadConcurrency == 0 {
		c.ReadConcurrency = DefaultReadConcurrency
	}
	if c.CopyConcurrency == 0 {
		c.CopyConcurrency = DefaultCopyConcurrency
	}
	if c.ChecksumMode == "" {
		c.ChecksumMode = ChecksumWhenRequired
	}
	if c.CommitMode == "" {
		c.CommitMode = CommitAuto
	}
	if c.RedirectExpiry == 0 {
		c.RedirectExpiry = DefaultRedirectExpiry
	}
}

// prefix is RootDirectory without leading or trailing '/'.
func (c Config) prefix() string { return strings.Trim(c.RootDirectory, "/") }

// Validate checks the configuration without any network call or file
// access. Zero values count as their defaults. Every problem is an
// ErrInvalidConfig error naming the field; no credential is ever echoed.
func (c Config) Validate() error {
	d := c
	d.setDefaults()
	if err := d.validateLocation(); err != nil {
		return err
	}
	if err := d.validateCredentials(); err != nil {
		return err
	}
	if err := d.validateObjects(); err != nil {
		return err
	}
	return d.validateSizes()
}

func (c Config) validateLocation() error {
	if c.Bucket == "" {
		return configError("Bucket is not set")
	}
	if len(c.Bucket) < 3 || len(c.Bucket) > 255 || strings.ContainsFunc(c.Bucket, notNameChar) {
		return configError("Bucket %q is not a bucket name (3 to 255 of [A-Za-z0-9._-])", c.Bucket)
	}
	if p := c.prefix(); p != "" && !driver.ValidPath("/"+p) {
		return configError("RootDirectory %q: components must be [A-Za-z0-9._-]+, not . or .., and not %s",
			c.RootDirectory, driver.InternalPrefix)
	}
	if strings.ContainsFunc(c.Region, notNameChar) {
		return configError("Region %q is not a region name ([A-Za-z0-9._-])", c.Region)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil:
			// url.Parse's error quotes the whole string, which may hold a credential.
			return configError("Endpoint is not a URL")
		case u.User != nil:
			return configError("Endpoint must not hold credentials (user@ or user:password@); use AccessKey and SecretKey")
		case u.Scheme != "http" && u.Scheme != "https":
			return configError("Endpoint %q: want an http:// or https:// URL", c.Endpoint)
		case u.Host == "":
			return configError("Endpoint %q has no host", c.Endpoint)
		case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
			return configError("Endpoint %q: want scheme://host[:port][/path], no query or fragment", c.Endpoint)
		}
	}
	return nil
}

func (c Config) validateCredentials() error {
	switch {
	case c.AccessKey == "" && (c.SecretKey != "" || c.SessionToken != ""):
		return configError("SecretKey or SessionToken is set without AccessKey")
	case c.AccessKey != "" && c.SecretKey == "":
		return configError("AccessKey is set without SecretKey")
	case strings.ContainsFunc(c.AccessKey, notPrintable):
		return configError("AccessKey holds blanks or control characters")
	case c.CACertFile != "" && c.InsecureSkipVerify:
		return configError("CACertFile and InsecureSkipVerify exclude each other")
	}
	return nil
}

func (c Config) validateObjects() error {
	switch c.SSE {
	case "", SSEAES256:
		if c.SSEKMSKeyID != "" {
			return configError("SSEKMSKeyID is set, but SSE is %q, not %q", c.SSE, SSEKMS)
		}
	case SSEKMS:
	default:
		return configError("SSE %q: want \"\", %q or %q", c.SSE, SSEAES256, SSEKMS)
	}
	if sc := types.StorageClass(c.StorageClass); sc != "" {
		if !slices.Contains(sc.Values(), sc) {
			return configError("StorageClass %q: want \"\" or one of %v", c.StorageClass, sc.Values())
		}
		if sc == types.StorageClassGlacier || sc == types.StorageClassDeepArchive {
			return configError("StorageClass %q needs a restore before every read; a registry cannot use it", c.StorageClass)
		}
	}
	if acl := types.ObjectCannedACL(c.ObjectACL); acl != "" && !slices.Contains(acl.Values(), acl) {
		return configError("ObjectACL %q: want \"\" or one of %v", c.ObjectACL, acl.Values())
	}
	if c.ChecksumMode != ChecksumWhenRequired && c.ChecksumMode != ChecksumWhenSupported {
		return configError("ChecksumMode %q: want %q or %q", c.ChecksumMode, ChecksumWhenRequired, ChecksumWhenSupported)
	}
	switch c.CommitMode {
	case CommitAuto, CommitDirect, CommitStaged:
	default:
		return configError("CommitMode %q: want %q, %q or %q", c.CommitMode, CommitAuto, CommitDirect, CommitStaged)
	}
	if c.RedirectExpiry < MinRedirectExpiry || c.RedirectExpiry > MaxRedirectExpiry {
		return configError("RedirectExpiry %s: want %s to %s", c.RedirectExpiry, MinRedirectExpiry, MaxRedirectExpiry)
	}
	return nil
}

func (c Config) validateSizes() error {
	if c.PartSize < MinPartSize || c.PartSize > MaxPartSize {
		return configError("PartSize %d: want %d (5 MiB) to %d (5 GiB)", c.PartSize, MinPartSize, MaxPartSize)
	}
	if c.Concurrency < 1 || c.Concurrency > MaxConcurrency {
		return configError("Concurrency %d: want 1 to %d", c.Concurrency, MaxConcurrency)
	}
	if c.CopyThreshold < 0 || c.CopyThreshold > DefaultCopyThreshold {
		return configError("CopyThreshold %d: want 1 to %d (5 GiB, CopyObject's limit)", c.CopyThreshold, DefaultCopyThreshold)
	}
	if c.CopyPartSize < MinPartSize || c.CopyPartSize > MaxPartSize {
		return configError("CopyPartSize %d: want %d (5 MiB) to %d (5 GiB)", c.CopyPartSize, MinPartSize, MaxPartSize)
	}
	if c.ReadChunkSize < 1<<20 || c.ReadChunkSize > MaxPartSize {
		return configError("ReadChunkSize %d: want 1 MiB to %d", c.ReadChunkSize, MaxPartSize)
	}
	if c.ReadConcurrency < 1 || c.ReadConcurrency > MaxConcurrency {
		return configError("ReadConcurrency %d: want 1 to %d", c.ReadConcurrency, MaxConcurrency)
	}
	if c.CopyConcurrency < 1 || c.CopyConcurrency > MaxCopyConcurrency {
		return configError("CopyConcurrency %d: want 1 to %d", c.CopyConcurrency, MaxCopyConcurrency)
	}
	return nil
}

func configError(format string, args ...any) error { return driver.ConfigError(Name, format, args...) }

func notNameChar(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
}

func notPrintable(r rune) bool { return r <= ' ' || r == 0x7f }
