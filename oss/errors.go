package oss

import (
	"errors"
	"net/http"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/berthio/berth/driver"
)

var _ driver.Classifier = (*backend)(nil)

// ClassifyError lets the Store give SDK errors their kind.
func (b *backend) ClassifyError(err error) error { return classify(err) }

// classify returns the kind of an SDK error, or nil. The OSS error code
// decides first, then the HTTP status alone: a HEAD answer has no body,
// hence no code.
func classify(err error) error {
	if err == nil {
		return nil
	}
	switch errorCode(err) {
	case "NoSuchKey", "NoSuchUpload":
		return driver.ErrNotFound
	case "NoSuchBucket":
		// Not ErrNotFound: New checked that the bucket existed, so it was
		// deleted or the configuration points elsewhere. Reported as "not
		// found", a registry would answer 404 for every blob instead of
		// failing loudly for an operator to fix.
		return driver.ErrInvalidConfig
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "RequestTimeTooSkewed",
		"InvalidSecurityToken", "SecurityTokenExpired", "AccountProblem", "UserDisable":
		return driver.ErrPermission
	case "FileAlreadyExists", "PositionNotEqualToLength", "PreconditionFailed", "ObjectNotAppendable":
		return driver.ErrConflict
	case "InvalidRange":
		return driver.ErrInvalidOffset
	case "EntityTooLarge", "FileTooLarge":
		return driver.ErrTooLarge
	case "InvalidObjectName", "KeyTooLong":
		return driver.ErrInvalidPath
	case "NotImplemented":
		return driver.ErrUnsupported
	}
	switch httpStatus(err) {
	case http.StatusNotFound:
		return driver.ErrNotFound
	case http.StatusForbidden:
		return driver.ErrPermission
	case http.StatusConflict, http.StatusPreconditionFailed:
		return driver.ErrConflict
	case http.StatusRequestedRangeNotSatisfiable:
		return driver.ErrInvalidOffset
	case http.StatusRequestEntityTooLarge:
		return driver.ErrTooLarge
	case http.StatusNotImplemented:
		return driver.ErrUnsupported
	}
	return nil
}

// isNotFound reports a missing key or upload; a missing bucket is not one.
func isNotFound(err error) bool {
	return err != nil && (errors.Is(err, driver.ErrNotFound) || classify(err) == driver.ErrNotFound)
}

// isAlreadyExists reports a write refused by x-oss-forbid-overwrite.
func isAlreadyExists(err error) bool {
	return errorCode(err) == "FileAlreadyExists"
}

// isPreconditionFailed reports a copy whose x-oss-copy-source-if-match
// did not hold.
func isPreconditionFailed(err error) bool {
	return errorCode(err) == "PreconditionFailed" || httpStatus(err) == http.StatusPreconditionFailed
}

// isServerError reports a 5xx answer.
func isServerError(err error) bool { return httpStatus(err) >= 500 }

// errorCode is the OSS error code of err ("NoSuchKey", ...), or "".
func errorCode(err error) string {
	var se alioss.ServiceError
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

// httpStatus is the HTTP status of the answer behind err, or 0 when there
// was none (a connection error, a cancelled context).
func httpStatus(err error) int {
	var se alioss.ServiceError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	var ue alioss.UnexpectedStatusCodeError
	if errors.As(err, &ue) {
		return ue.Got()
	}
	return 0
}
