package ossserver

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
)

// ossError is an error answer: an HTTP status, an OSS error code and the
// message OSS gives for it. Extra elements (OSSAccessKeyId, StringToSign,
// ...) go beside Code and Message, as OSS sends them; none of them ever
// holds a secret.
type ossError struct {
	status  int
	code    string
	message string
	extra   []xmlElem
	header  http.Header // extra response headers (x-oss-next-append-position)
}

type xmlElem struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

func (e *ossError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

func errf(status int, code, format string, args ...any) *ossError {
	return &ossError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func (e *ossError) with(name, value string) *ossError {
	e.extra = append(e.extra, xmlElem{XMLName: xml.Name{Local: name}, Value: value})
	return e
}

// The errors OSS answers, by the codes its documentation lists.
func errNoSuchBucket(bucket string) *ossError {
	return errf(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist.").with("BucketName", bucket)
}

func errNoSuchKey(key string) *ossError {
	return errf(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.").with("Key", key)
}

func errNoSuchUpload(id string) *ossError {
	return errf(http.StatusNotFound, "NoSuchUpload",
		"The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.").
		with("UploadId", id)
}

func errFileAlreadyExists() *ossError {
	return errf(http.StatusConflict, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.")
}

func errPosition(next int64) *ossError {
	e := errf(http.StatusConflict, "PositionNotEqualToLength", "Position is not equal to file length")
	e.header = http.Header{"X-Oss-Next-Append-Position": {strconv.FormatInt(next, 10)}}
	return e
}

func errInvalidArgument(format string, args ...any) *ossError {
	return errf(http.StatusBadRequest, "InvalidArgument", format, args...)
}

func errAccessDenied(format string, args ...any) *ossError {
	return errf(http.StatusForbidden, "AccessDenied", format, args...)
}

func errPreconditionFailed() *ossError {
	return errf(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.")
}

func errMalformedXML() *ossError {
	return errf(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
}

func errInternal(err error) *ossError {
	return errf(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again. (%v)", err)
}

// writeError sends e as OSS does: an XML document (none for HEAD, whose
// answer has no body: the status alone tells).
func writeError(w http.ResponseWriter, r *http.Request, reqID string, e *ossError) {
	type errorDoc struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string   `xml:"Code"`
		Message   string   `xml:"Message"`
		RequestID string   `xml:"RequestId"`
		HostID    string   `xml:"HostId"`
		Extra     []xmlElem
	}
	doc := errorDoc{Code: e.code, Message: e.message, RequestID: reqID, HostID: r.Host, Extra: e.extra}
	body, err := xml.Marshal(doc)
	if err != nil {
		body = []byte("<Error><Code>InternalError</Code></Error>")
	}
	body = append([]byte(xml.Header), body...)
	for k, vs := range e.header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Oss-Ec", "0000-00000000")
	if r.Method == http.MethodHead {
		w.WriteHeader(e.status)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	w.Write(body)
}
