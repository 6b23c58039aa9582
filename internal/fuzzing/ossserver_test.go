package fuzzing

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthio/berth/internal/ossserver"
)

const (
	ossID     = "LTAIfuzzaccesskey"
	ossSecret = "fuzzsecret0123456789abcdefghij"
	ossBucket = "berth-fuzz"
)

// ossNow is the server's clock: fixed, so that committed seeds signed for
// it stay within the allowed skew.
var ossNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// v1Sign signs r with OSS's V1 header scheme, written here from OSS's
// documentation rather than taken from the server: VERB, Content-MD5,
// Content-Type, Date, the x-oss-* headers lowercased and sorted, and the
// resource /bucket/key with the signed sub-resources (only those the
// seeds use: uploads, uploadId, partNumber, append, position).
func v1Sign(r *http.Request, bucket, key string) {
	if r.Header.Get("Date") == "" {
		r.Header.Set("Date", ossNow.Format(http.TimeFormat))
	}
	var sts strings.Builder
	sts.WriteString(r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + r.Header.Get("Date") + "\n")
	var hs []string
	for k, vs := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-oss-") {
			hs = append(hs, lk+":"+vs[0])
		}
	}
	slices.Sort(hs)
	for _, h := range hs {
		sts.WriteString(h + "\n")
	}
	res := "/" + bucket + "/" + key
	q := r.URL.Query()
	var sub []string
	for _, k := range []string{"append", "partNumber", "position", "uploadId", "uploads"} {
		if q.Has(k) {
			if v := q.Get(k); v != "" {
				sub = append(sub, k+"="+v)
			} else {
				sub = append(sub, k)
			}
		}
	}
	if len(sub) > 0 {
		res += "?" + strings.Join(sub, "&")
	}
	sts.WriteString(res)
	mac := hmac.New(sha1.New, []byte(ossSecret))
	mac.Write([]byte(sts.String()))
	r.Header.Set("Authorization", "OSS "+ossID+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

// simpleTarget reports whether the request's bucket and key are plain
// enough that v1Sign's resource is certainly the server's: path style, no
// escapes, only the sub-resources v1Sign knows, each once.
func simpleTarget(r *http.Request) (bucket, key string, ok bool) {
	if r.URL.RawPath != "" || strings.ContainsAny(r.URL.Path, "%\\") || strings.Contains(r.Host, ".") && !strings.HasPrefix(r.Host, "127.") {
		return "", "", false
	}
	bucket, key, _ = strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	for k, vs := range r.URL.Query() {
		if len(vs) != 1 || !slices.Contains([]string{"append", "partNumber", "position", "uploadId", "uploads"}, k) {
			return "", "", false
		}
	}
	for k, vs := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-oss-") && len(vs) != 1 {
			return "", "", false
		}
	}
	return bucket, key, bucket != "" && key != "" && !strings.ContainsAny(r.URL.RawQuery, "%+;")
}

// FuzzOSSServer feeds the OSS test server raw HTTP requests. With sign set,
// the harness signs a request whose target it can sign (V1, Date fixed to
// the server's clock) before serving it, so that the fuzzer also reaches
// the handlers behind authentication.
func FuzzOSSServer(f *testing.F) {
	date := ossNow.Format(http.TimeFormat)
	for _, seed := range []struct {
		raw  string
		sign bool
	}{
		{"PUT /berth-fuzz/a/b HTTP/1.1\r\nHost: 127.0.0.1:9\r\nContent-Length: 5\r\n\r\nhello", true},
		{"GET /berth-fuzz/a/b HTTP/1.1\r\nHost: 127.0.0.1:9\r\nRange: bytes=1-3\r\nx-oss-range-behavior: standard\r\n\r\n", true},
		{"HEAD /berth-fuzz/a/b HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n", true},
		{"POST /berth-fuzz/m?uploads HTTP/1.1\r\nHost: 127.0.0.1:9\r\nContent-Length: 0\r\n\r\n", true},
		{"PUT /berth-fuzz/m?partNumber=1&uploadId=X HTTP/1.1\r\nHost: 127.0.0.1:9\r\nContent-Length: 3\r\n\r\nabc", true},
		{"POST /berth-fuzz/m?uploadId=X HTTP/1.1\r\nHost: 127.0.0.1:9\r\nContent-Length: 97\r\n\r\n<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"x\"</ETag></Part></CompleteMultipartUpload>", true},
		{"POST /berth-fuzz/ap?append&position=0 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nContent-Length: 2\r\n\r\nhi", true},
		{"PUT /berth-fuzz/c HTTP/1.1\r\nHost: 127.0.0.1:9\r\nx-oss-copy-source: /berth-fuzz/a/b\r\nx-oss-forbid-overwrite: true\r\n\r\n", true},
		{"DELETE /berth-fuzz/a/b HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n", true},
		{"GET /berth-fuzz/?list-type=2&prefix=a&delimiter=/ HTTP/1.1\r\nHost: 127.0.0.1:9\r\nDate: " + date + "\r\n\r\n", false},
		{"PUT /berth-fuzz/x HTTP/1.1\r\nHost: 127.0.0.1:9\r\nDate: " + date + "\r\nAuthorization: OSS " + ossID + ":AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\nContent-Length: 1\r\n\r\nx", false},
		{"GET /berth-fuzz/a/b?OSSAccessKeyId=" + ossID + "&Expires=1767323045&Signature=abc HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n", false},
		{"GET /berth-fuzz/a/b?x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=" + ossID + "%2F20260102%2Fcn-hangzhou%2Foss%2Faliyun_v4_request&x-oss-date=20260102T030405Z&x-oss-expires=60&x-oss-signature=00 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n", false},
		{"PUT /berth-fuzz/v4 HTTP/1.1\r\nHost: berth-fuzz.oss.localhost\r\nx-oss-date: 20260102T030405Z\r\nx-oss-content-sha256: UNSIGNED-PAYLOAD\r\nAuthorization: OSS4-HMAC-SHA256 Credential=" + ossID + "/20260102/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=host,Signature=00\r\n\r\n", false},
		{"DELETE /berth-fuzz HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n", true},
	} {
		f.Add([]byte(seed.raw), seed.sign)
	}
	srv, err := ossserver.New(ossserver.Config{
		Dir:         f.TempDir(),
		Credentials: []ossserver.Credential{{AccessKeyID: ossID, AccessKeySecret: ossSecret}},
		Now:         func() time.Time { return ossNow },
	})
	if err != nil {
		f.Fatal(err)
	}
	if err := srv.CreateBucket(ossBucket); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte, sign bool) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		r.RemoteAddr = "127.0.0.1:40000"
		signed := false
		if sign {
			if bucket, key, ok := simpleTarget(r); ok {
				r.Header.Del("Authorization")
				v1Sign(r, bucket, key)
				signed = true
			}
		}
		// A copy of what decides authentication, before the handler reads
		// the body.
		auth, query := r.Header.Get("Authorization"), r.URL.RawQuery
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		res := rec.Result()
		body := rec.Body.String()

		if res.StatusCode < 100 || res.StatusCode > 599 {
			t.Fatalf("status %d", res.StatusCode)
		}
		var hdrs strings.Builder
		res.Header.Write(&hdrs)
		if strings.Contains(body, ossSecret) || strings.Contains(hdrs.String(), ossSecret) {
			t.Fatalf("the secret is in the answer: %s\n%s", hdrs.String(), body)
		}
		if res.StatusCode >= 400 && r.Method != http.MethodHead && !strings.Contains(body, "<Code>") {
			t.Fatalf("error %d without an OSS error document: %q", res.StatusCode, body)
		}
		// A request signed by the harness is never refused for its
		// signature.
		if signed && strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
			t.Fatalf("a correctly signed request was refused: %s\n%s", raw, body)
		}
		// A write that names no known key is never accepted: the fuzzer
		// cannot forge an HMAC, so only the harness's signatures pass.
		mutating := r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodDelete
		if mutating && res.StatusCode < 300 && !signed && !strings.Contains(auth, ossID) && !strings.Contains(query, ossID) {
			t.Fatalf("an unauthenticated %s was accepted (%d): %q", r.Method, res.StatusCode, raw)
		}
	})
}
