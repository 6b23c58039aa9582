package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthio/berth/driver"
)

// sdkError builds the chain the SDK returns for an error answer:
// OperationError > awshttp.ResponseError > smithyhttp.ResponseError > api.
func sdkError(status int, api error) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject",
		Err: &awshttp.ResponseError{RequestID: "req-1", ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
			Err:      api,
		}}}
}

func code(c string) error { return &smithy.GenericAPIError{Code: c, Message: c + " message"} }

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"nil", nil, nil},
		{"plain", errors.New("boom"), nil},
		{"typed NoSuchKey", sdkError(404, &types.NoSuchKey{}), driver.ErrNotFound},
		{"HEAD 404", sdkError(404, &types.NotFound{}), driver.ErrNotFound},
		{"NoSuchUpload", sdkError(404, code("NoSuchUpload")), driver.ErrNotFound},
		{"bare 404", sdkError(404, code("UnknownError")), driver.ErrNotFound},
		{"NoSuchBucket", sdkError(404, &types.NoSuchBucket{}), driver.ErrInvalidConfig},
		{"AccessDenied", sdkError(403, code("AccessDenied")), driver.ErrPermission},
		{"InvalidAccessKeyId", sdkError(403, code("InvalidAccessKeyId")), driver.ErrPermission},
		{"SignatureDoesNotMatch", sdkError(403, code("SignatureDoesNotMatch")), driver.ErrPermission},
		{"ExpiredToken (400)", sdkError(400, code("ExpiredToken")), driver.ErrPermission},
		{"odd code, 403", sdkError(403, code("XMinioAdminCredentialsMismatch")), driver.ErrPermission},
		{"PreconditionFailed", sdkError(412, code("PreconditionFailed")), driver.ErrConflict},
		{"bare 412", sdkError(412, code("UnknownError")), driver.ErrConflict},
		{"ConditionalRequestConflict", sdkError(409, code("ConditionalRequestConflict")), driver.ErrConflict},
		{"other 409", sdkError(409, code("BucketNotEmpty")), nil},
		{"InvalidRange", sdkError(416, code("InvalidRange")), driver.ErrInvalidOffset},
		{"bare 416", sdkError(416, code("UnknownError")), driver.ErrInvalidOffset},
		{"EntityTooLarge (400)", sdkError(400, code("EntityTooLarge")), driver.ErrTooLarge},
		{"bare 413", sdkError(413, code("UnknownError")), driver.ErrTooLarge},
		{"KeyTooLongError", sdkError(400, code("KeyTooLongError")), driver.ErrInvalidPath},
		{"NotImplemented", sdkError(501, code("NotImplemented")), driver.ErrUnsupported},
		{"bare 501", sdkError(501, code("UnknownError")), driver.ErrUnsupported},
		{"InternalError", sdkError(500, code("InternalError")), nil},
		{"SlowDown", sdkError(503, code("SlowDown")), nil},
		{"InvalidPart", sdkError(400, code("InvalidPart")), nil},
		{"code without status", code("NoSuchKey"), driver.ErrNotFound},
		{"connection refused", &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject",
			Err: &smithyhttp.RequestSendError{Err: syscall.ECONNREFUSED}}, nil},
		{"cancelled", &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject",
			Err: &smithy.CanceledError{Err: context.Canceled}}, nil},
		{"response without http.Response", &smithyhttp.ResponseError{Response: &smithyhttp.Response{}}, nil},
		{"wrapped further", fmt.Errorf("reading record: %w", sdkError(404, &types.NoSuchKey{})), driver.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, classify(tc.err))
			assert.Equal(t, tc.want, (&backend{}).ClassifyError(tc.err))
		})
	}
}

func TestClassifyHelpers(t *testing.T) {
	assert.True(t, isPreconditionFailed(sdkError(412, code("PreconditionFailed"))))
	assert.True(t, isPreconditionFailed(sdkError(412, code("UnknownError"))))
	assert.True(t, isPreconditionFailed(code("PreconditionFailed")))
	// RGW's 500 for a losing conditional PUT is the caller's to read back.
	assert.False(t, isPreconditionFailed(sdkError(500, code("UnknownError"))))
	assert.False(t, isPreconditionFailed(sdkError(409, code("ConditionalRequestConflict"))))
	assert.False(t, isPreconditionFailed(nil))

	assert.True(t, isNotFound(sdkError(404, &types.NoSuchKey{})))
	assert.True(t, isNotFound(sdkError(404, code("NoSuchUpload"))))
	assert.True(t, isNotFound(driver.Errorf(driver.ErrNotFound, "no record")))
	assert.False(t, isNotFound(sdkError(404, &types.NoSuchBucket{})))
	assert.False(t, isNotFound(sdkError(403, code("AccessDenied"))))
	assert.False(t, isNotFound(nil))

	assert.Equal(t, 0, httpStatus(errors.New("x")))
	assert.Equal(t, 503, httpStatus(sdkError(503, code("SlowDown"))))
	assert.Equal(t, "", errorCode(errors.New("x")))
}

// TestClassifyThroughStore: an S3 error answer reaches the caller as one
// *driver.Error whose kind errors.Is finds, with the SDK's typed error
// reachable by errors.As. A fake server stands in for S3.
func TestClassifyThroughStore(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 {
			return // HeadBucket: 200
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>`+
			`<Message>The specified key does not exist.</Message><RequestId>r1</RequestId></Error>`)
	}))
	defer srv.Close()
	st, err := New(context.Background(), Config{Bucket: "fake", Endpoint: srv.URL, PathStyle: true,
		AccessKey: "AK", SecretKey: testSecret})
	require.NoError(t, err)

	_, err = st.GetContent(context.Background(), "/docker/registry/v2/blobs/x")
	require.Error(t, err)
	assert.ErrorIs(t, err, driver.ErrNotFound)
	var nsk *types.NoSuchKey
	assert.ErrorAs(t, err, &nsk)
	var de *driver.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, Name, de.Driver)
	assert.NotContains(t, err.Error(), testSecret)

	var c *s3.Client
	require.True(t, st.As(&c))
	_, err = c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("fake"), Key: aws.String("k")})
	assert.Equal(t, driver.ErrNotFound, classify(err), "the raw SDK error: %v", err)
}
