package s3

import (
	"errors"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/httpkind"
)

var _ driver.Classifier = (*backend)(nil)

// ClassifyError lets the Store give SDK errors their kind.
func (b *backend) ClassifyError(err error) error { return classify(err) }

// classify returns the kind of an SDK error, or nil (httpkind: the code
// decides first, then the status). "NotFound" and "Forbidden" are the
// SDK's names for a bare 404 and 403.
func classify(err error) error {
	if err == nil {
		return nil
	}
	return kinds.Kind(errorCode(err), httpStatus(err))
}

var kinds = httpkind.Table{
	Codes: map[string]error{
		"NoSuchKey": driver.ErrNotFound, "NotFound": driver.ErrNotFound, "NoSuchUpload": driver.ErrNotFound,
		// Not ErrNotFound: New checked that the bucket existed, so it was
		// deleted or the configuration now points elsewhere. Reported as
		// "not found", a registry would answer 404 for every blob (and
		// accept pushes into nothing) instead of failing loudly for an
		// operator to fix the deployment.
		"NoSuchBucket": driver.ErrInvalidConfig,
		"AccessDenied": driver.ErrPermission, "Forbidden": driver.ErrPermission,
		"InvalidAccessKeyId": driver.ErrPermission, "SignatureDoesNotMatch": driver.ErrPermission,
		"AllAccessDisabled": driver.ErrPermission, "AccountProblem": driver.ErrPermission,
		"InvalidToken": driver.ErrPermission, "ExpiredToken": driver.ErrPermission,
		"PreconditionFailed": driver.ErrConflict, "ConditionalRequestConflict": driver.ErrConflict,
		"InvalidRange":    driver.ErrInvalidOffset,
		"EntityTooLarge":  driver.ErrTooLarge,
		"KeyTooLongError": driver.ErrInvalidPath, // a path longer than the server's key limit
		"NotImplemented":  driver.ErrUnsupported,
	},
	Statuses: httpkind.Statuses(nil),
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
