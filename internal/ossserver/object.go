package ossserver

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// quoted is an ETag as OSS sends it.
func quoted(etag string) string { return `"` + etag + `"` }

// sameETag compares an ETag a client sent with an object's.
func sameETag(sent, etag string) bool {
	return strings.EqualFold(strings.Trim(strings.TrimSpace(sent), `"`), etag)
}

func forbidOverwrite(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("X-Oss-Forbid-Overwrite"), "true")
}

// sseOf checks the x-oss-server-side-encryption header.
func sseOf(r *http.Request) (string, *ossError) {
	switch v := r.Header.Get("X-Oss-Server-Side-Encryption"); v {
	case "", "AES256", "KMS", "SM4":
		return v, nil
	default:
		return "", errInvalidArgument("The encryption method specified is not supported: %q.", v).with("ArgumentName", "x-oss-server-side-encryption")
	}
}

// userMeta collects the x-oss-meta-* headers.
func userMeta(r *http.Request) []string {
	var out []string
	for k, vs := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-oss-meta-") {
			out = append(out, lk+":"+vs[0])
		}
	}
	slices.Sort(out)
	return out
}

// rejectConditionalPut refuses the HTTP preconditions OSS does not honour
// on writes: If-None-Match and If-Match (and their time-based kin). OSS's
// one conditional write is x-oss-forbid-overwrite.
func rejectConditionalPut(r *http.Request) *ossError {
	for _, h := range []string{"If-None-Match", "If-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		if r.Header.Get(h) != "" {
			return errf(http.StatusBadRequest, "NotImplemented",
				"A header you provided implies functionality that is not implemented: %s on a write; use x-oss-forbid-overwrite.", h).
				with("Header", h)
		}
	}
	return nil
}

// receiveBody reads the request body into a temp file and checks its
// Content-MD5, if sent.
func (s *Server) receiveBody(r *http.Request, limit int64) (*body, *ossError) {
	if r.ContentLength > limit {
		return nil, errf(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
	}
	bd, err := s.st.receive(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, errf(http.StatusBadRequest, "RequestTimeout", "Reading the request body failed: %v", err)
	}
	if bd.size > limit {
		bd.discard()
		return nil, errf(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
	}
	if r.ContentLength >= 0 && bd.size != r.ContentLength {
		bd.discard()
		return nil, errf(http.StatusBadRequest, "IncompleteBody", "The request body ended before Content-Length bytes.")
	}
	if want := r.Header.Get("Content-MD5"); want != "" && want != base64.StdEncoding.EncodeToString(bd.md5) {
		bd.discard()
		return nil, errf(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified is not valid.")
	}
	return bd, nil
}

func (s *Server) putObject(rq *request, b *bucket) *ossError {
	r := rq.r
	if e := rejectConditionalPut(r); e != nil {
		return e
	}
	sse, e := sseOf(r)
	if e != nil {
		return e
	}
	bd, e := s.receiveBody(r, s.cfg.MaxPartSize)
	if e != nil {
		return e
	}
	defer bd.discard()
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, exists := b.objects[rq.key]; exists && forbidOverwrite(r) {
		return errFileAlreadyExists()
	}
	name, err := b.install(bd)
	if err != nil {
		return errInternal(err)
	}
	md5hex := fmt.Sprintf("%x", bd.md5)
	o := &object{Key: rq.key, Type: "Normal", Size: bd.size, ETag: etagOf(bd.md5), CRC: bd.crc,
		Modified: s.now().UTC(), ContentType: r.Header.Get("Content-Type"), SSE: sse, Meta: userMeta(r),
		Segments: []segment{{File: name, Size: bd.size, MD5: md5hex, CRC: bd.crc}}}
	if err := s.st.putObject(b, o); err != nil {
		b.removeData(o.Segments, nil)
		return errInternal(err)
	}
	h := rq.w.Header()
	h.Set("ETag", quoted(o.ETag))
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(bd.md5))
	h.Set("X-Oss-Hash-Crc64ecma", strconv.FormatUint(o.CRC, 10))
	if sse != "" {
		h.Set("X-Oss-Server-Side-Encryption", sse)
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) appendObject(rq *request, b *bucket) *ossError {
	r := rq.r
	pos, err := strconv.ParseInt(r.URL.Query().Get("position"), 10, 64)
	if err != nil || pos < 0 {
		return errInvalidArgument("position must be a non-negative integer.").with("ArgumentName", "position")
	}
	sse, e := sseOf(r)
	if e != nil {
		return e
	}
	bd, e := s.receiveBody(r, s.cfg.MaxPartSize)
	if e != nil {
		return e
	}
	defer bd.discard()
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.objects[rq.key]
	switch {
	case old == nil && pos != 0:
		return errPosition(0)
	case old != nil && old.Type != "Appendable":
		return errf(http.StatusConflict, "ObjectNotAppendable", "The object is not appendable.")
	case old != nil && pos != old.Size:
		return errPosition(old.Size)
	}
	name, err := b.install(bd)
	if err != nil {
		return errInternal(err)
	}
	seg := segment{File: name, Size: bd.size, MD5: fmt.Sprintf("%x", bd.md5), CRC: bd.crc}
	o := &object{Key: rq.key, Type: "Appendable", Size: bd.size, CRC: bd.crc, Modified: s.now().UTC(),
		ContentType: r.Header.Get("Content-Type"), SSE: sse, Meta: userMeta(r), Segments: []segment{seg}}
	if old != nil {
		o.ContentType, o.SSE, o.Meta = old.ContentType, old.SSE, old.Meta
		o.Segments = append(slices.Clone(old.Segments), seg)
		o.Size = old.Size + bd.size
		o.CRC = crcCombine(old.CRC, bd.crc, bd.size)
	}
	o.ETag = appendETag(o.Segments)
	if err := s.st.putObject(b, o); err != nil {
		b.removeData([]segment{seg}, nil)
		return errInternal(err)
	}
	h := rq.w.Header()
	h.Set("ETag", quoted(o.ETag))
	h.Set("X-Oss-Next-Append-Position", strconv.FormatInt(o.Size, 10))
	h.Set("X-Oss-Hash-Crc64ecma", strconv.FormatUint(o.CRC, 10))
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// parseRange parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" range
// against size. ok is false for a syntax OSS ignores; valid is false for
// a range outside the object.
func parseRange(h string, size int64) (off, n int64, ok, valid bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	a, z, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false, false
	}
	var first, last int64 = -1, -1
	var err error
	if a != "" {
		if first, err = strconv.ParseInt(a, 10, 64); err != nil || first < 0 {
			return 0, 0, false, false
		}
	}
	if z != "" {
		if last, err = strconv.ParseInt(z, 10, 64); err != nil || last < 0 {
			return 0, 0, false, false
		}
	}
	switch {
	case first < 0 && last < 0:
		return 0, 0, false, false
	case first < 0: // the last n bytes
		if last == 0 || size == 0 {
			return 0, 0, true, false
		}
		n = min(last, size)
		return size - n, n, true, true
	case last >= 0 && last < first:
		return 0, 0, false, false
	case first >= size:
		return 0, 0, true, false
	case last < 0:
		return first, size - first, true, true
	case last >= size:
		// OSS's default: an end past the object makes the whole range
		// invalid; the standard behaviour cuts it at the end.
		return first, size - first, true, false
	}
	return first, last - first + 1, true, true
}

func (s *Server) getObject(rq *request, b *bucket, withBody bool) *ossError {
	r := rq.r
	b.mu.Lock()
	o, ok := b.objects[rq.key]
	if !ok {
		b.mu.Unlock()
		return errNoSuchKey(rq.key)
	}
	if m := r.Header.Get("If-Match"); m != "" && !sameETag(m, o.ETag) {
		b.mu.Unlock()
		return errPreconditionFailed()
	}
	if m := r.Header.Get("If-None-Match"); m != "" && sameETag(m, o.ETag) {
		b.mu.Unlock()
		rq.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	off, n, status := int64(0), o.Size, http.StatusOK
	if h := r.Header.Get("Range"); h != "" {
		roff, rn, syntaxOK, valid := parseRange(h, o.Size)
		standard := strings.EqualFold(r.Header.Get("X-Oss-Range-Behavior"), "standard")
		switch {
		case !syntaxOK:
		case valid:
			off, n, status = roff, rn, http.StatusPartialContent
		case standard && roff < o.Size && rn > 0:
			off, n, status = roff, rn, http.StatusPartialContent // end cut at the end
		case standard:
			b.mu.Unlock()
			rq.w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", o.Size))
			return errf(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range cannot be satisfied.").
				with("RangeRequested", h).with("ActualObjectSize", strconv.FormatInt(o.Size, 10))
		}
	}
	var rc io.ReadCloser
	if withBody {
		var err error
		if rc, err = b.openRange(o, off, n); err != nil {
			b.mu.Unlock()
			return errInternal(err)
		}
		defer rc.Close()
	}
	b.mu.Unlock()

	h := rq.w.Header()
	h.Set("Content-Type", o.ContentType)
	if o.ContentType == "" {
		h.Set("Content-Type", "application/octet-stream")
	}
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	h.Set("ETag", quoted(o.ETag))
	h.Set("Last-Modified", o.Modified.Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Oss-Object-Type", o.Type)
	h.Set("X-Oss-Storage-Class", "Standard")
	h.Set("X-Oss-Hash-Crc64ecma", strconv.FormatUint(o.CRC, 10))
	if o.Type == "Appendable" {
		h.Set("X-Oss-Next-Append-Position", strconv.FormatInt(o.Size, 10))
	}
	if o.SSE != "" {
		h.Set("X-Oss-Server-Side-Encryption", o.SSE)
	}
	for _, m := range o.Meta {
		k, v, _ := strings.Cut(m, ":")
		h.Set(k, v)
	}
	if status == http.StatusPartialContent {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, o.Size))
	}
	rq.w.WriteHeader(status)
	if withBody {
		buf := copyBuffers.Get().(*[]byte)
		io.CopyBuffer(rq.w, rc, *buf)
		copyBuffers.Put(buf)
	}
	return nil
}

func (s *Server) deleteObject(rq *request, b *bucket) *ossError {
	b.mu.Lock()
	_, err := s.st.deleteObject(b, rq.key)
	b.mu.Unlock()
	if err != nil {
		return errInternal(err)
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// copySource parses x-oss-copy-source: /bucket/key, the key URL-encoded.
func (s *Server) copySource(r *http.Request) (*bucket, string, *ossError) {
	src := r.Header.Get("X-Oss-Copy-Source")
	if strings.Contains(src, "?") {
		return nil, "", errf(http.StatusNotImplemented, "NotImplemented", "This server keeps no versions: x-oss-copy-source takes no ?versionId.")
	}
	sb, sk, ok := strings.Cut(strings.TrimPrefix(src, "/"), "/")
	key, err := url.QueryUnescape(sk)
	if !ok || err != nil || !validKey(key) {
		return nil, "", errInvalidArgument("x-oss-copy-source is not /bucket/object.").with("ArgumentName", "x-oss-copy-source")
	}
	b, found := s.st.bucket(sb)
	if !found {
		return nil, "", errNoSuchBucket(sb)
	}
	return b, key, nil
}

// copyPrecondition checks x-oss-copy-source-if-match and -if-none-match
// against the source.
func copyPrecondition(r *http.Request, src *object) *ossError {
	if m := r.Header.Get("X-Oss-Copy-Source-If-Match"); m != "" && !sameETag(m, src.ETag) {
		return errPreconditionFailed()
	}
	if m := r.Header.Get("X-Oss-Copy-Source-If-None-Match"); m != "" && sameETag(m, src.ETag) {
		return errPreconditionFailed()
	}
	return nil
}

// lockPair locks two buckets (or one) in name order.
func lockPair(a, b *bucket) func() {
	if a == b {
		a.mu.Lock()
		return a.mu.Unlock
	}
	if a.name > b.name {
		a, b = b, a
	}
	a.mu.Lock()
	b.mu.Lock()
	return func() { b.mu.Unlock(); a.mu.Unlock() }
}

func (s *Server) copyObject(rq *request, b *bucket) *ossError {
	r := rq.r
	if e := rejectConditionalPut(r); e != nil {
		return e
	}
	sse, e := sseOf(r)
	if e != nil {
		return e
	}
	sb, skey, e := s.copySource(r)
	if e != nil {
		return e
	}
	unlock := lockPair(sb, b)
	defer unlock()
	src, ok := sb.objects[skey]
	if !ok {
		return errNoSuchKey(skey)
	}
	if e := copyPrecondition(r, src); e != nil {
		return e
	}
	if src.Size > s.cfg.MaxCopySize {
		return errf(http.StatusBadRequest, "InvalidArgument",
			"The source object is larger than %d bytes, CopyObject's limit; copy it with UploadPartCopy.", s.cfg.MaxCopySize).
			with("ArgumentName", "x-oss-copy-source")
	}
	if _, exists := b.objects[rq.key]; exists && forbidOverwrite(r) {
		return errFileAlreadyExists()
	}
	segs, err := sb.linkAcross(b, src.Segments)
	if err != nil {
		return errInternal(err)
	}
	o := &object{Key: rq.key, Type: src.Type, Size: src.Size, ETag: src.ETag, CRC: src.CRC, Modified: s.now().UTC(),
		ContentType: src.ContentType, SSE: src.SSE, Meta: src.Meta, Segments: segs}
	if strings.EqualFold(r.Header.Get("X-Oss-Metadata-Directive"), "REPLACE") {
		o.ContentType, o.Meta = r.Header.Get("Content-Type"), userMeta(r)
	}
	if sse != "" {
		o.SSE = sse
	}
	if err := s.st.putObject(b, o); err != nil {
		b.removeData(segs, nil)
		return errInternal(err)
	}
	rq.w.Header().Set("X-Oss-Hash-Crc64ecma", strconv.FormatUint(o.CRC, 10))
	return writeXML(rq, struct {
		XMLName      xml.Name `xml:"CopyObjectResult"`
		LastModified string   `xml:"LastModified"`
		ETag         string   `xml:"ETag"`
	}{LastModified: o.Modified.Format(time.RFC3339), ETag: quoted(o.ETag)})
}

// linkAcross hard-links segs of bucket from into bucket to.
func (from *bucket) linkAcross(to *bucket, segs []segment) ([]segment, error) {
	out := make([]segment, 0, len(segs))
	for _, sg := range segs {
		name := randomHex(16)
		if err := os.Link(from.dataPath(sg.File), to.dataPath(name)); err != nil {
			to.removeData(out, nil)
			return nil, err
		}
		c := sg
		c.File = name
		out = append(out, c)
	}
	return out, nil
}

// md5Base64 is a body's Content-MD5.
func md5Base64(p []byte) string {
	sum := md5.Sum(p)
	return base64.StdEncoding.EncodeToString(sum[:])
}
