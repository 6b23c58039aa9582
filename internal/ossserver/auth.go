package ossserver

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// signedParams are the query parameters a V1 signature covers (the
// sub-resources), as aliyun-oss-go-sdk v3 lists them (conn.go
// signKeyList). Every other parameter is left out of a V1 string to sign;
// V4 signs them all.
var signedParams = map[string]bool{}

func init() {
	for _, k := range []string{"acl", "uploads", "location", "cors",
		"logging", "website", "referer", "lifecycle",
		"delete", "append", "tagging", "objectMeta",
		"uploadId", "partNumber", "security-token",
		"position", "img", "style", "styleName",
		"replication", "replicationProgress",
		"replicationLocation", "cname", "bucketInfo",
		"comp", "qos", "live", "status", "vod",
		"startTime", "endTime", "symlink",
		"x-oss-process", "response-content-type", "x-oss-traffic-limit",
		"response-content-language", "response-expires",
		"response-cache-control", "response-content-disposition",
		"response-content-encoding", "udf", "udfName", "udfImage",
		"udfId", "udfImageDesc", "udfApplication",
		"udfApplicationLog", "restore", "callback", "callback-var", "qosInfo",
		"policy", "stat", "encryption", "versions", "versioning", "versionId", "requestPayment",
		"x-oss-request-payer", "sequential",
		"inventory", "inventoryId", "continuation-token", "asyncFetch",
		"worm", "wormId", "wormExtend", "withHashContext",
		"x-oss-enable-md5", "x-oss-enable-sha1", "x-oss-enable-sha256",
		"x-oss-hash-ctx", "x-oss-md5-ctx", "transferAcceleration",
		"regionList", "cloudboxes", "x-oss-ac-source-ip", "x-oss-ac-subnet-mask", "x-oss-ac-vpc-id", "x-oss-ac-forward-allow",
		"metaQuery", "resourceGroup", "rtc", "x-oss-async-process", "responseHeader",
	} {
		signedParams[k] = true
	}
}

const (
	v4Algorithm   = "OSS4-HMAC-SHA256"
	v4TimeFormat  = "20060102T150405Z"
	v4DayFormat   = "20060102"
	v4Terminator  = "aliyun_v4_request"
	v4Product     = "oss"
	unsignedV4    = "UNSIGNED-PAYLOAD"
	maxPresignAge = 7 * 24 * time.Hour // V4's longest x-oss-expires
)

// authenticate checks the request's signature: a V1 or V4 Authorization
// header, or a V1 or V4 presigned URL. It refuses what OSS refuses, with
// OSS's codes: no signature at all (AccessDenied: buckets here are
// private), an unknown key (InvalidAccessKeyId), a wrong signature
// (SignatureDoesNotMatch), a header-signed request whose date is more than
// MaxSkew away from the server's clock (RequestTimeTooSkewed) and an
// expired presigned URL (AccessDenied).
func (s *Server) authenticate(r *http.Request, bucket, key string) *ossError {
	q := r.URL.Query()
	auth := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(auth, "OSS "):
		return s.verifyV1Header(r, q, bucket, key, auth)
	case strings.HasPrefix(auth, v4Algorithm+" "):
		return s.verifyV4Header(r, q, bucket, key, auth)
	case auth != "":
		return errInvalidArgument("Authorization header is invalid or not supported by this server (V1 \"OSS\" and V4 %q are).", v4Algorithm)
	case q.Has("OSSAccessKeyId") || q.Has("Signature"):
		return s.verifyV1Query(r, q, bucket, key)
	case q.Get("x-oss-signature-version") == v4Algorithm:
		return s.verifyV4Query(r, q, bucket, key)
	case q.Has("x-oss-signature-version"):
		return errInvalidArgument("x-oss-signature-version %q is not supported by this server", q.Get("x-oss-signature-version"))
	}
	return errAccessDenied("You have no right to access this object because of bucket acl.")
}

// credential finds the key pair of id and checks the security token the
// request carries against it.
func (s *Server) credential(id, token string) (Credential, *ossError) {
	c, ok := s.creds[id]
	if !ok {
		return c, errf(http.StatusForbidden, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.").
			with("OSSAccessKeyId", id)
	}
	if c.SecurityToken != "" && subtle.ConstantTimeCompare([]byte(c.SecurityToken), []byte(token)) != 1 {
		return c, errf(http.StatusForbidden, "InvalidSecurityToken", "The security token you provided is invalid.")
	}
	if c.SecurityToken == "" && token != "" {
		return c, errf(http.StatusForbidden, "InvalidSecurityToken", "The security token you provided is invalid.")
	}
	return c, nil
}

func (s *Server) checkSkew(t time.Time) *ossError {
	now := s.now()
	if d := now.Sub(t); d > s.cfg.MaxSkew || d < -s.cfg.MaxSkew {
		return errf(http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.").
			with("RequestTime", t.UTC().Format(time.RFC3339)).with("ServerTime", now.UTC().Format(time.RFC3339)).
			with("MaxAllowedSkewMilliseconds", strconv.FormatInt(s.cfg.MaxSkew.Milliseconds(), 10))
	}
	return nil
}

// v1Resource is the canonicalized resource of a V1 signature:
// /bucket/key, the key as it is (not escaped), then the signed
// sub-resources, sorted, "k=v" or a bare "k" for an empty value.
func v1Resource(q url.Values, bucket, key string) string {
	var keys []string
	for k := range q {
		if signedParams[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var sub strings.Builder
	for i, k := range keys {
		if i > 0 {
			sub.WriteByte('&')
		}
		sub.WriteString(k)
		if v := q.Get(k); v != "" {
			sub.WriteString("=" + v)
		}
	}
	res := "/"
	if bucket != "" {
		res = "/" + bucket + "/" + key
	}
	if sub.Len() > 0 {
		res += "?" + sub.String()
	}
	return res
}

// v1StringToSign is VERB, Content-MD5, Content-Type, Date (or a presigned
// URL's Expires), the x-oss-* headers lowercased and sorted, then the
// resource.
func v1StringToSign(r *http.Request, date, resource string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + date + "\n")
	for _, kv := range ossHeaders(r, nil) {
		b.WriteString(kv[0] + ":" + kv[1] + "\n")
	}
	b.WriteString(resource)
	return b.String()
}

// ossHeaders returns the request's x-oss-* headers (and, for V4,
// content-md5, content-type and the additional headers), lowercased,
// sorted by name, each with its first value; trim trims V4's values.
func ossHeaders(r *http.Request, v4Additional []string) [][2]string {
	var out [][2]string
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-oss-") ||
			v4Additional != nil && (lk == "content-md5" || lk == "content-type" || slices.Contains(v4Additional, lk)) {
			v := vs[0]
			if v4Additional != nil {
				v = strings.Trim(v, " ")
			}
			out = append(out, [2]string{lk, v})
		}
	}
	if v4Additional != nil && slices.Contains(v4Additional, "host") {
		out = append(out, [2]string{"host", r.Host})
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

func hmacSHA1(key []byte, s string) []byte {
	h := hmac.New(sha1.New, key)
	h.Write([]byte(s))
	return h.Sum(nil)
}

func hmacSHA256(key []byte, s string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(s))
	return h.Sum(nil)
}

// signatureMismatch is OSS's answer to a wrong signature: it names the
// key id and the string the server signed (neither is a secret), so that
// a client can compare its own.
func signatureMismatch(id, stringToSign string) *ossError {
	return errf(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.").
		with("OSSAccessKeyId", id).with("StringToSign", stringToSign)
}

func (s *Server) verifyV1Header(r *http.Request, q url.Values, bucket, key, auth string) *ossError {
	id, sig, ok := strings.Cut(strings.TrimPrefix(auth, "OSS "), ":")
	if !ok {
		return errInvalidArgument("Authorization header is invalid.")
	}
	cred, e := s.credential(id, r.Header.Get("X-Oss-Security-Token"))
	if e != nil {
		return e
	}
	date := r.Header.Get("Date")
	t, err := http.ParseTime(date)
	if err != nil {
		return errAccessDenied("OSS authentication requires a valid Date.")
	}
	sts := v1StringToSign(r, date, v1Resource(q, bucket, key))
	want := base64.StdEncoding.EncodeToString(hmacSHA1([]byte(cred.AccessKeySecret), sts))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return signatureMismatch(id, sts)
	}
	return s.checkSkew(t)
}

func (s *Server) verifyV1Query(r *http.Request, q url.Values, bucket, key string) *ossError {
	id, sig, expires := q.Get("OSSAccessKeyId"), q.Get("Signature"), q.Get("Expires")
	if id == "" || sig == "" || expires == "" {
		return errAccessDenied("A presigned URL needs OSSAccessKeyId, Expires and Signature.")
	}
	cred, e := s.credential(id, q.Get("security-token"))
	if e != nil {
		return e
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return errAccessDenied("Expires is not a number.")
	}
	sts := v1StringToSign(r, expires, v1Resource(q, bucket, key))
	want := base64.StdEncoding.EncodeToString(hmacSHA1([]byte(cred.AccessKeySecret), sts))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return signatureMismatch(id, sts)
	}
	if s.now().Unix() > exp {
		return errAccessDenied("Request has expired.").with("Expires", time.Unix(exp, 0).UTC().Format(time.RFC3339)).
			with("ServerTime", s.now().UTC().Format(time.RFC3339))
	}
	return nil
}

// v4Escape escapes a key as the SDK's V4 resource does: query escaping,
// spaces as %20, slashes kept.
func v4Escape(s string) string {
	s = strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
	return strings.ReplaceAll(s, "%2F", "/")
}

// v4Resource is the resource line of a V4 canonical request.
func v4Resource(bucket, key string) string {
	switch {
	case bucket == "":
		return "/"
	case key == "":
		return "/" + bucket + "/"
	}
	return "/" + bucket + "/" + v4Escape(key)
}

// v4Query is the query line of a V4 canonical request: every parameter
// but skip, keys and values escaped, sorted by escaped key.
func v4Query(q url.Values, skip string) string {
	type kv struct{ k, v string }
	var all []kv
	for k := range q {
		if k == skip {
			continue
		}
		v := q.Get(k)
		ek := url.QueryEscape(k)
		if v != "" {
			v = strings.ReplaceAll(url.QueryEscape(v), "+", "%20")
		}
		all = append(all, kv{ek, v})
	}
	slices.SortFunc(all, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	var b strings.Builder
	for i, p := range all {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		if p.v != "" {
			b.WriteString("=" + p.v)
		}
	}
	return b.String()
}

// v4Signature computes a V4 signature; it returns the signature and the
// string to sign.
func v4Signature(r *http.Request, secret, date, day, region, resource, query string, additional []string) (string, string) {
	if additional == nil {
		additional = []string{}
	}
	var canon strings.Builder
	canon.WriteString(r.Method + "\n" + resource + "\n" + query + "\n")
	for _, kv := range ossHeaders(r, additional) {
		canon.WriteString(kv[0] + ":" + kv[1] + "\n")
	}
	payload := r.Header.Get("X-Oss-Content-Sha256")
	if payload == "" {
		payload = unsignedV4
	}
	canon.WriteString("\n" + strings.Join(additional, ";") + "\n" + payload)
	sum := sha256.Sum256([]byte(canon.String()))
	sts := v4Algorithm + "\n" + date + "\n" + day + "/" + region + "/" + v4Product + "/" + v4Terminator + "\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("aliyun_v4"+secret), day)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, v4Product)
	k = hmacSHA256(k, v4Terminator)
	return hex.EncodeToString(hmacSHA256(k, sts)), sts
}

// v4Scope parses "<id>/<day>/<region>/oss/aliyun_v4_request".
func (s *Server) v4Scope(credential string) (id, day string, e *ossError) {
	parts := strings.Split(credential, "/")
	if len(parts) != 5 || parts[3] != v4Product || parts[4] != v4Terminator {
		return "", "", errInvalidArgument("Invalid credential in Authorization header.")
	}
	if parts[2] != s.cfg.Region {
		return "", "", errInvalidArgument("Invalid signing region in Authorization header: %q, want %q.", parts[2], s.cfg.Region)
	}
	return parts[0], parts[1], nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	out := strings.Split(strings.ToLower(s), ";")
	slices.Sort(out)
	return out
}

func (s *Server) verifyV4Header(r *http.Request, q url.Values, bucket, key, auth string) *ossError {
	fields := map[string]string{}
	for _, f := range strings.Split(strings.TrimPrefix(auth, v4Algorithm+" "), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	id, day, e := s.v4Scope(fields["Credential"])
	if e != nil {
		return e
	}
	cred, e := s.credential(id, r.Header.Get("X-Oss-Security-Token"))
	if e != nil {
		return e
	}
	date := r.Header.Get("X-Oss-Date")
	var t time.Time
	var err error
	if date != "" {
		t, err = time.Parse(v4TimeFormat, date)
	} else {
		date = r.Header.Get("Date")
		t, err = http.ParseTime(date)
	}
	if err != nil {
		return errAccessDenied("OSS V4 authentication requires a valid x-oss-date or Date.")
	}
	if t.UTC().Format(v4DayFormat) != day {
		return errInvalidArgument("Invalid signing date in Authorization header.")
	}
	want, sts := v4Signature(r, cred.AccessKeySecret, date, day, s.cfg.Region, v4Resource(bucket, key), v4Query(q, ""), splitList(fields["AdditionalHeaders"]))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return signatureMismatch(id, sts)
	}
	return s.checkSkew(t)
}

func (s *Server) verifyV4Query(r *http.Request, q url.Values, bucket, key string) *ossError {
	id, day, e := s.v4Scope(q.Get("x-oss-credential"))
	if e != nil {
		return e
	}
	cred, e := s.credential(id, q.Get("x-oss-security-token"))
	if e != nil {
		return e
	}
	date := q.Get("x-oss-date")
	t, err := time.Parse(v4TimeFormat, date)
	if err != nil || t.Format(v4DayFormat) != day {
		return errAccessDenied("x-oss-date is missing or does not match the credential's day.")
	}
	secs, err := strconv.ParseInt(q.Get("x-oss-expires"), 10, 64)
	if err != nil || secs <= 0 || time.Duration(secs)*time.Second > maxPresignAge {
		return errInvalidArgument("x-oss-expires must be 1 to %d seconds.", int64(maxPresignAge.Seconds()))
	}
	want, sts := v4Signature(r, cred.AccessKeySecret, date, day, s.cfg.Region, v4Resource(bucket, key), v4Query(q, "x-oss-signature"),
		splitList(q.Get("x-oss-additional-headers")))
	if !hmac.Equal([]byte(want), []byte(q.Get("x-oss-signature"))) {
		return signatureMismatch(id, sts)
	}
	if now := s.now(); now.After(t.Add(time.Duration(secs) * time.Second)) {
		return errAccessDenied("Request has expired.").with("ServerTime", now.UTC().Format(time.RFC3339))
	}
	if d := t.Sub(s.now()); d > s.cfg.MaxSkew {
		return s.checkSkew(t)
	}
	return nil
}
