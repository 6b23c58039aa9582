package oss

import (
	"errors"
	"net/http"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/httpkind"
)

var _ driver.Classifier = (*backend)(nil)

// ClassifyError lets the Store give SDK errors their kind.
func (b *backend) ClassifyError(err error) error { return classify(err) }

// classify returns the kind of an SDK error, or nil (httpkind: the OSS
// error code decides first, then the status).
func classify(err error) error {
	if err == nil {
		return nil
	}
	return kinds.Kind(errorCode(err), httpStatus(err))
}

var kinds = httpkind.Table{
	Codes: map[string]error{
		"NoSuchKey": driver.ErrNotFound, "NoSuchUpload": driver.ErrNotFound,
		// Not ErrNotFound: New checked that the bucket existed, so it was
		// deleted or the configuration points elsewhere. Reported as "not
		// found", a registry would answer 404 for every blob instead of
		// failing loudly for an operator to fix.
		"NoSuchBucket": driver.ErrInvalidConfig,
		"AccessDenied": driver.ErrPermission, "InvalidAccessKeyId": driver.ErrPermission,
		"SignatureDoesNotMatch": driver.ErrPermission, "RequestTimeTooSkewed": driver.ErrPermission,
		"InvalidSecurityToken": driver.ErrPermission, "SecurityTokenExpired": driver.ErrPermission,
		"AccountProblem": driver.ErrPermission, "UserDisable": driver.ErrPermission,
		"FileAlreadyExists": driver.ErrConflict, "PositionNotEqualToLength": driver.ErrConflict,
		"PreconditionFailed": driver.ErrConflict, "ObjectNotAppendable": driver.ErrConflict,
		"InvalidRange":   driver.ErrInvalidOffset,
		"EntityTooLarge": driver.ErrTooLarge, "FileTooLarge": driver.ErrTooLarge,
		"InvalidObjectName": driver.ErrInvalidPath, "KeyTooLong": driver.ErrInvalidPath,
		"NotImplemented": driver.ErrUnsupported,
	},
	Statuses: httpkind.Statuses(map[int]error{http.StatusConflict: driver.ErrConflict}),
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
