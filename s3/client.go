package s3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/multipart"
	"github.com/berthio/berth/internal/objkey"
	"github.com/berthio/berth/internal/tlsconf"
)

// probeTimeout bounds New's check of the bucket.
var probeTimeout = 15 * time.Second

// maxIdleConnsPerHost: a registry talks to one host, with up to
// Concurrency parts in flight per writer and many writers; the SDK's 10
// would close and reopen connections under load.
const maxIdleConnsPerHost = 128

// New opens an instance on cfg.Bucket. It applies the defaults, validates
// cfg without touching the network, then makes one HeadBucket, without
// retries, bounded by 15 s, so that a wrong configuration fails here and
// not at the first push: a missing bucket or an unreachable endpoint is
// ErrInvalidConfig, refused credentials are ErrPermission. No error text
// holds a credential.
func New(ctx context.Context, cfg Config) (*driver.Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := newClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := probe(ctx, c, cfg); err != nil {
		return nil, err
	}
	b := &backend{
		cfg:     cfg,
		client:  c,
		presign: s3.NewPresignClient(c),
		bucket:  cfg.Bucket,
		prefix:  cfg.prefix(),
	}
	b.uploads = &multipart.Bucket{
		Store: store{b}, Keys: objkey.Layout(b.prefix), MaxParts: MaxParts,
		Concurrency: cfg.Concurrency, PartSize: b.partSizeFor, Buffers: &b.parts,
	}
	return driver.NewStore(b), nil
}

// newClient builds the SDK client for a validated cfg. Static keys use
// nothing from the environment; without them the SDK's default
// configuration is loaded (AWS_* variables, shared files, roles), and
// cfg's explicit fields override it.
func newClient(ctx context.Context, cfg Config) (*s3.Client, error) {
	hc, err := newHTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	var ac aws.Config
	if cfg.AccessKey != "" {
		ac = aws.Config{
			Region: cfg.Region,
			Credentials: credentials.NewStaticCredentialsProvider(
				cfg.AccessKey, cfg.SecretKey.Reveal(), cfg.SessionToken.Reveal()),
			HTTPClient: hc,
		}
	} else {
		ac, err = awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Region), awsconfig.WithHTTPClient(hc))
		if err != nil {
			return nil, configError("loading the AWS default configuration (environment, shared files): %w", err)
		}
	}
	reqSum, respSum := aws.RequestChecksumCalculationWhenRequired, aws.ResponseChecksumValidationWhenRequired
	if cfg.ChecksumMode == ChecksumWhenSupported {
		reqSum, respSum = aws.RequestChecksumCalculationWhenSupported, aws.ResponseChecksumValidationWhenSupported
	}
	// The retryer stays the SDK's standard one: it retries throttling,
	// 5xx and connection errors with jittered backoff, and never a 4xx.
	return s3.NewFromConfig(ac, func(o *s3.Options) {
		o.UsePathStyle = cfg.PathStyle
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.RequestChecksumCalculation = reqSum
		o.ResponseChecksumValidation = respSum
		// Multipart objects carry no whole-object checksum; without this
		// every such GET logs a warning under when_supported.
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

// newHTTPClient returns the SDK's buildable client with TLS set from cfg:
// verification on, against the system roots plus CACertFile, unless
// InsecureSkipVerify.
func newHTTPClient(cfg Config) (*awshttp.BuildableClient, error) {
	roots, err := tlsconf.RootCAs(Name, cfg.CACertFile)
	if err != nil {
		return nil, err
	}
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConnsPerHost = maxIdleConnsPerHost
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		} else {
			tr.TLSClientConfig = tr.TLSClientConfig.Clone()
		}
		tr.TLSClientConfig.RootCAs = roots // nil: the system's
		tr.TLSClientConfig.InsecureSkipVerify = cfg.InsecureSkipVerify
	}), nil
}

// probe checks that the bucket exists and the credentials may use it.
func probe(ctx context.Context, c *s3.Client, cfg Config) error {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	where := "AWS S3 in region " + cfg.Region
	if cfg.Endpoint != "" {
		where = "endpoint " + cfg.Endpoint
	}
	if cfg.AccessKey == "" {
		if _, err := c.Options().Credentials.Retrieve(pctx); err != nil {
			if ctx.Err() != nil {
				return &driver.Error{Driver: Name, Op: "Open", Err: err}
			}
			return configError("AccessKey is empty and the AWS default credential chain found no credentials: %w", err)
		}
	}
	_, err := c.HeadBucket(pctx, &s3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)},
		func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	if err == nil {
		return nil
	}
	if ctx.Err() != nil { // the caller gave up: not a configuration problem
		return &driver.Error{Driver: Name, Op: "Open", Err: err}
	}
	status := httpStatus(err)
	var sendErr *smithyhttp.RequestSendError
	switch {
	case status == 0 && errors.Is(err, context.DeadlineExceeded):
		return configError("cannot reach %s: no answer within %s", where, probeTimeout)
	case status == 0 && tlsconf.IsVerifyError(err):
		return configError("cannot reach %s: its TLS certificate is not trusted (set CACertFile to its CA): %w", where, err)
	case status == 0 && errors.As(err, &sendErr):
		return configError("cannot reach %s: %w", where, err)
	case status == 0:
		return configError("checking bucket %q at %s: %w", cfg.Bucket, where, err)
	case status == http.StatusNotFound || errorCode(err) == "NoSuchBucket":
		return configError("bucket %q does not exist at %s", cfg.Bucket, where)
	case status == http.StatusForbidden || classify(err) == driver.ErrPermission:
		return &driver.Error{Driver: Name, Op: "Open", Kind: driver.ErrPermission,
			Err: fmt.Errorf("%s refused access to bucket %q: check AccessKey and SecretKey, and that they may use the bucket: %w",
				where, cfg.Bucket, err)}
	case status == http.StatusMovedPermanently || errorCode(err) == "AuthorizationHeaderMalformed":
		if r := bucketRegion(err); r != "" && r != cfg.Region {
			return configError("bucket %q is in region %q, not %q: set Region", cfg.Bucket, r, cfg.Region)
		}
	}
	return configError("checking bucket %q at %s: %w", cfg.Bucket, where, err)
}

// bucketRegion is the region AWS names in a wrong-region answer.
func bucketRegion(err error) string {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && re.Response.Response != nil {
		return re.Response.Header.Get("X-Amz-Bucket-Region")
	}
	return ""
}

// As is the escape hatch behind Store.As: target may be a **s3.Client or a
// **s3.PresignClient (of aws-sdk-go-v2's service/s3).
func (b *backend) As(target any) bool {
	switch t := target.(type) {
	case **s3.Client:
		*t = b.client
	case **s3.PresignClient:
		*t = b.presign
	default:
		return false
	}
	return true
}

// Factory opens s3://bucket/root/dir?endpoint=...&path_style=true... and
// distribution's s3 parameter map. See the package doc for every key.
var Factory = driver.ConfigFactory(Name, "Amazon S3 and S3-compatible servers (MinIO, Ceph RGW)", New, configFromURL, configFromParameters)

// configFromURL decodes the URL form. Credentials in the query are
// accepted but never echoed; the AWS_* environment is the better place.
func configFromURL(u *url.URL) (Config, error) {
	var cfg Config
	p, err := driver.URLParams(Name, u, "s3://bucket[/root/directory][?key=value...]", "access_key and secret_key, or the AWS_* environment")
	if err != nil {
		return cfg, err
	}
	cfg.Bucket, cfg.RootDirectory = u.Host, u.Path
	p.String("endpoint", &cfg.Endpoint)
	p.String("region", &cfg.Region)
	p.Bool("path_style", &cfg.PathStyle)
	p.String("access_key", &cfg.AccessKey)
	p.Secret("secret_key", &cfg.SecretKey)
	p.Secret("session_token", &cfg.SessionToken)
	p.String("ca_cert_file", &cfg.CACertFile)
	p.Bool("insecure_skip_verify", &cfg.InsecureSkipVerify)
	p.String("sse", &cfg.SSE)
	p.String("sse_kms_key_id", &cfg.SSEKMSKeyID)
	p.String("storage_class", &cfg.StorageClass)
	p.String("object_acl", &cfg.ObjectACL)
	p.Int64("part_size", &cfg.PartSize)
	p.Int("concurrency", &cfg.Concurrency)
	p.Int64("copy_threshold", &cfg.CopyThreshold)
	p.Int64("copy_part_size", &cfg.CopyPartSize)
	p.Int("copy_concurrency", &cfg.CopyConcurrency)
	p.String("checksum_mode", &cfg.ChecksumMode)
	p.String("commit_mode", &cfg.CommitMode)
	p.Duration("redirect_expiry", &cfg.RedirectExpiry)
	p.Bool("disable_redirect", &cfg.DisableRedirect)
	return cfg, p.Err()
}

// configFromParameters maps distribution's s3 driver parameters onto a
// Config, strictly: an unknown key is an error.
func configFromParameters(params map[string]any) (Config, error) {
	var (
		cfg                     Config
		endpoint, keyID, class  string
		encrypt, v4auth, secure = false, true, true
		dualStack, accel, fips  bool
	)
	p := driver.NewParams(Name, params)
	p.String("bucket", &cfg.Bucket)
	p.String("rootdirectory", &cfg.RootDirectory)
	p.String("region", &cfg.Region)
	p.String("regionendpoint", &endpoint)
	p.Bool("forcepathstyle", &cfg.PathStyle)
	p.Bool("secure", &secure)
	p.Bool("skipverify", &cfg.InsecureSkipVerify)
	p.String("accesskey", &cfg.AccessKey)
	p.Secret("secretkey", &cfg.SecretKey)
	p.Secret("sessiontoken", &cfg.SessionToken)
	p.Bool("encrypt", &encrypt)
	p.String("keyid", &keyID)
	p.String("storageclass", &class)
	p.String("objectacl", &cfg.ObjectACL)
	p.Int64("chunksize", &cfg.PartSize)
	p.Int64("multipartcopythresholdsize", &cfg.CopyThreshold)
	p.Int64("multipartcopychunksize", &cfg.CopyPartSize)
	p.Int("multipartcopymaxconcurrency", &cfg.CopyConcurrency)
	p.Bool("v4auth", &v4auth) // decoded for its type; v4 is always used
	p.Bool("usedualstack", &dualStack)
	p.Bool("accelerate", &accel)
	p.Bool("usefipsendpoint", &fips)
	p.Ignore("useragent", "loglevel")
	// Berth's own keys, for what distribution has no name for.
	p.Int("concurrency", &cfg.Concurrency)
	p.String("cacertfile", &cfg.CACertFile)
	p.String("checksummode", &cfg.ChecksumMode)
	p.String("commitmode", &cfg.CommitMode)
	p.Duration("redirectexpiry", &cfg.RedirectExpiry)
	p.Bool("disableredirect", &cfg.DisableRedirect)
	if err := p.Err(); err != nil {
		return cfg, err
	}
	for name, on := range map[string]bool{"usedualstack": dualStack, "accelerate": accel, "usefipsendpoint": fips} {
		if on {
			return cfg, &driver.Error{Driver: Name, Op: "Open", Kind: driver.ErrUnsupported,
				Err: fmt.Errorf("parameter %q: true is not supported; name the endpoint in regionendpoint", name)}
		}
	}
	switch {
	case endpoint == "" && !secure:
		return cfg, configError("secure: false needs a regionendpoint; AWS is reached over https only")
	case endpoint != "" && !strings.Contains(endpoint, "://"):
		// distribution's form: a bare host[:port], its scheme set by secure.
		if secure {
			endpoint = "https://" + endpoint
		} else {
			endpoint = "http://" + endpoint
		}
	}
	cfg.Endpoint = endpoint
	switch {
	case encrypt && keyID != "":
		cfg.SSE, cfg.SSEKMSKeyID = SSEKMS, keyID
	case encrypt:
		cfg.SSE = SSEAES256
	case keyID != "":
		// distribution ignores keyid then; an ignored key is a surprise.
		return cfg, configError("parameter \"keyid\" is set but encrypt is not true")
	}
	if class = strings.ToUpper(class); class != "NONE" { // distribution's "no class"
		cfg.StorageClass = class
	}
	return cfg, nil
}
