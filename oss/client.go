package oss

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/multipart"
	"github.com/berthio/berth/internal/objkey"
	"github.com/berthio/berth/internal/tlsconf"
)

// probeTimeout bounds New's check of the bucket.
var probeTimeout = 15 * time.Second

// maxIdleConnsPerHost: a registry talks to one host, with up to
// Concurrency parts in flight per writer and many writers.
const maxIdleConnsPerHost = 128

// New opens an instance on cfg.Bucket. It fills what cfg leaves empty from
// the OSS_* environment, applies the defaults, validates cfg without
// touching the network, then lists at most one key of the bucket (no
// retries, at most 15 s), so that a wrong configuration fails here and not
// at the first push: a missing bucket or an unreachable endpoint is
// ErrInvalidConfig, refused credentials are ErrPermission. No error text
// holds a credential.
func New(ctx context.Context, cfg Config) (*driver.Store, error) {
	return newWithEnv(ctx, cfg, os.LookupEnv)
}

func newWithEnv(ctx context.Context, cfg Config, lookup func(string) (string, bool)) (*driver.Store, error) {
	cfg.applyEnv(lookup)
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	bk, err := c.Bucket(cfg.Bucket)
	if err != nil {
		return nil, configError("Bucket %q: %v", cfg.Bucket, err)
	}
	b := &backend{cfg: cfg, client: c, bucket: bk, prefix: cfg.prefix()}
	b.uploads = &multipart.Bucket{
		Store: store{b}, Keys: objkey.Layout(b.prefix), MaxParts: MaxParts,
		Concurrency: cfg.Concurrency, PartSize: b.partSizeFor,
	}
	if err := b.probe(ctx); err != nil {
		return nil, err
	}
	return driver.NewStore(b), nil
}

// newClient builds the SDK client for a validated cfg.
func newClient(cfg Config) (*alioss.Client, error) {
	hc, err := newHTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	o := []alioss.ClientOption{alioss.HTTPClient(hc), alioss.Region(cfg.Region)}
	if cfg.SignatureVersion == SignatureV4 {
		o = append(o, alioss.AuthVersion(alioss.AuthV4))
	} else {
		o = append(o, alioss.AuthVersion(alioss.AuthV1))
	}
	if cfg.SecurityToken != "" {
		o = append(o, alioss.SecurityToken(cfg.SecurityToken.Reveal()))
	}
	if cfg.PathStyle {
		o = append(o, alioss.ForcePathStyle(true))
	}
	c, err := alioss.New(cfg.endpoint(), cfg.AccessKeyID, cfg.AccessKeySecret.Reveal(), o...)
	if err != nil {
		return nil, configError("Endpoint %q: %v", cfg.endpoint(), err)
	}
	return c, nil
}

// newHTTPClient returns the HTTP client the SDK uses: TLS verified against
// the system roots plus CACertFile, unless InsecureSkipVerify; timeouts
// on connecting and on headers, none on a whole body (a layer may take
// long).
func newHTTPClient(cfg Config) (*http.Client, error) {
	tlsCfg, err := tlsconf.Config(Name, cfg.CACertFile, cfg.InsecureSkipVerify)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute, // a CompleteMultipartUpload or a large copy answers late
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          maxIdleConnsPerHost,
		MaxIdleConnsPerHost:   maxIdleConnsPerHost,
		IdleConnTimeout:       50 * time.Second,
	}
	// No redirects: OSS answers a wrong-region request with one.
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, nil
}

// probe checks that the bucket exists and the credentials may list it.
func (b *backend) probe(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	where := "endpoint " + b.cfg.endpoint()
	_, err := b.bucket.ListObjectsV2(opts(pctx, alioss.Prefix(b.dirKey("/")), alioss.MaxKeys(1))...)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil { // the caller gave up: not a configuration problem
		return &driver.Error{Driver: Name, Op: "Open", Err: err}
	}
	status, code := httpStatus(err), errorCode(err)
	var ne net.Error
	switch {
	case status == 0 && errors.Is(err, context.DeadlineExceeded):
		return configError("cannot reach %s: no answer within %s", where, probeTimeout)
	case status == 0 && tlsconf.IsVerifyError(err):
		return configError("cannot reach %s: its TLS certificate is not trusted (set CACertFile to its CA): %v", where, redactURL(err))
	case status == 0 && errors.As(err, &ne):
		return configError("cannot reach %s: %v", where, redactURL(err))
	case status == 0:
		return configError("checking bucket %q at %s: %v", b.cfg.Bucket, where, redactURL(err))
	case code == "NoSuchBucket" || status == http.StatusNotFound:
		return configError("bucket %q does not exist at %s", b.cfg.Bucket, where)
	case code == "RequestTimeTooSkewed":
		return &driver.Error{Driver: Name, Op: "Open", Kind: driver.ErrPermission,
			Err: fmt.Errorf("%s refused the request: this host's clock is more than 15 minutes off: %w", where, err)}
	case status == http.StatusForbidden || classify(err) == driver.ErrPermission:
		return &driver.Error{Driver: Name, Op: "Open", Kind: driver.ErrPermission,
			Err: fmt.Errorf("%s refused access to bucket %q (%s): check AccessKeyID and AccessKeySecret, and that they may use the bucket: %w",
				where, b.cfg.Bucket, code, err)}
	case code == "InvalidArgument" || status == http.StatusBadRequest:
		return configError("%s refused the request (%s; a wrong Region or SignatureVersion?): %v", where, code, err)
	}
	return configError("checking bucket %q at %s: %v", b.cfg.Bucket, where, err)
}

// redactURL drops the URL from a transport error: it holds no credential
// with header signing, but a query can hold one.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// As is the escape hatch behind Store.As: target may be a **oss.Client or
// a **oss.Bucket (of aliyun-oss-go-sdk).
func (b *backend) As(target any) bool {
	switch t := target.(type) {
	case **alioss.Client:
		*t = b.client
	case **alioss.Bucket:
		*t = b.bucket
	default:
		return false
	}
	return true
}

// Factory opens oss://bucket/root/dir?region=...&endpoint=... and
// distribution's oss parameter map. See the package doc for every key.
var Factory = driver.ConfigFactory(Name, "Aliyun OSS (and OSS-protocol servers such as cmd/ossserver)", New, configFromURL, configFromParameters)
