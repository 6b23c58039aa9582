// Package tlsconf builds the TLS settings of the drivers that speak HTTP
// (s3, oss, swift) from their shared configuration fields, CACertFile and
// InsecureSkipVerify, and recognises a failed certificate verification.
//
// # Errors
//
// A CACertFile that cannot be read or holds no PEM certificate is
// ErrInvalidConfig, naming the field.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"

	"github.com/berthio/berth/driver"
)

// RootCAs returns the system's roots plus the certificates of the PEM file
// caFile, or nil (the system's roots) when caFile is "".
func RootCAs(driverName, caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, driver.ConfigError(driverName, "CACertFile: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, driver.ConfigError(driverName, "CACertFile %q holds no PEM certificate", caFile)
	}
	return roots, nil
}

// Config returns TLS 1.2 or later, verified against RootCAs(caFile)
// unless insecure.
func Config(driverName, caFile string, insecure bool) (*tls.Config, error) {
	roots, err := RootCAs(driverName, caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure, RootCAs: roots}, nil
}

// IsVerifyError reports a failed certificate verification.
func IsVerifyError(err error) bool {
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		hn x509.HostnameError
		ci x509.CertificateInvalidError
	)
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}
