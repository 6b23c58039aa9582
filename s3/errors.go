package s3

import (
	"errors"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/berthio/berth/driver"
)

var _ driver.Classifier = (*backend)(nil)

// ClassifyError lets the Store give SDK errors their kind.
func (b *backend) ClassifyError(err error) error { return classify(err) }

// classify returns the kind of an SDK error, or nil. The error code decides
// first, then the HTTP status alone: S3-compatible servers send odd codes,
// and a HEAD answer has no body, hence no code ("NotFound", "Forbidden" are
// the SDK's names for a bare 404 and 403).
func classify(err error) error {
	if err == nil {
		return nil
	}
	switch errorCode(err) {
	case "NoSuchKey", "NotFound", "NoSuchUpload":
		return driver.ErrNotFound
	case "NoSuchBucket":
		// Not ErrNotFound: New checked that the bucket existed, so it was
		// deleted or the configuration now points elsewhere. Reported as
		// "not found", a registry would answer 404 for every blob (and
		// accept pushes into nothing) instead of failing loudly for an
		// operator to fix the deployment.
		return driver.ErrInvalidConfig
	case "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch",
		"AllAccessDisabled", "AccountProblem", "InvalidToken", "ExpiredToken":
		return driver.ErrPermission
	case "PreconditionFailed", "ConditionalRequestConflict":
		return driver.ErrConflict
	case "InvalidRange":
		return driver.ErrInvalidOffset
	case "EntityTooLarge":
		return driver.ErrTooLarge
	case "KeyTooLongError": // a path longer than the server's key limit
		return driver.ErrInvalidPath
	case "NotImplemented":
		return driver.ErrUnsupported
	}
	switch httpStatus(err) {
	case http.StatusNotFound:
		return driver.ErrNotFound
	case http.StatusForbidden:
		return driver.ErrPermission
	case http.StatusPreconditionFailed:
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

// isPreconditionFailed reports a conditional request (If-Match,
// If-None-Match) that lost: 412 or PreconditionFailed. Ceph RGW answers
// some losing conditional PUTs with HTTP 500 instead (BACKENDS.md); that
// is deliberately not matched here, since a 500 is also a real server
// fault: the caller reads the outcome back (see upload.go).
func isPreconditionFailed(err error) bool {
	return err != nil && (httpStatus(err) == http.StatusPreconditionFailed || errorCode(err) == "PreconditionFailed")
}

// isNotFound reports a missing key or upload; a missing bucket is not one.
func isNotFound(err error) bool {
	return err != nil && (errors.Is(err, driver.ErrNotFound) || classify(err) == driver.ErrNotFound)
}

// errorCode is the S3 error code of err ("NoSuchKey", ...), or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus is the HTTP status of the answer behind err, or 0 when there
// was none (a connection error, a cancelled context).
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && re.Response.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}
