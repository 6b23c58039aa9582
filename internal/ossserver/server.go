package ossserver

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Credential is one key pair the server accepts. With SecurityToken set
// it stands for STS credentials: every request must carry that token
// (x-oss-security-token, or security-token in a V1 presigned URL).
type Credential struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// Config configures a Server.
type Config struct {
	// Dir holds the data; it survives a restart. Required.
	Dir string
	// Credentials are the accepted key pairs; at least one.
	Credentials []Credential
	// Region is the region V4 signatures must name. Default
	// DefaultRegion.
	Region string
	// Domain is the base host name of virtual-host addressing: a request to
	// <bucket>.<Domain>[:port] addresses the bucket; any other host
	// name (an IP address, localhost) uses path-style /<bucket>/<key>.
	// Default "oss.localhost".
	Domain string
	// MaxSkew bounds how far a header-signed request's date may be from
	// the server's clock. Default 15 minutes, as OSS.
	MaxSkew time.Duration
	// MinPartSize is the smallest part but the last that
	// CompleteMultipartUpload accepts. Default 100 KiB, as OSS.
	MinPartSize int64
	// MaxPartSize is the largest part. Default 5 GiB, as OSS.
	MaxPartSize int64
	// MaxParts is the highest part number. Default 10,000, as OSS.
	MaxParts int
	// MaxCopySize is the largest source CopyObject copies. Default 1 GiB,
	// as OSS; larger objects are copied with UploadPartCopy.
	MaxCopySize int64
	// Now is the server's clock. Default time.Now.
	Now func() time.Time
	// Logf, if set, gets one line per request: method, bucket, key,
	// status, error code. No header, query or credential is ever logged.
	Logf func(format string, args ...any)
}

// Defaults of Config.
const (
	DefaultRegion      = "cn-hangzhou"
	DefaultDomain      = "oss.localhost"
	DefaultMaxSkew     = 15 * time.Minute
	DefaultMinPartSize = 100 << 10
	DefaultMaxPartSize = 5 << 30
	DefaultMaxParts    = 10000
	DefaultMaxCopySize = 1 << 30
)

// Server is an http.Handler speaking the OSS protocol.
type Server struct {
	cfg   Config
	creds map[string]Credential
	st    *store
}

// New opens the data under cfg.Dir (creating it) and returns the server.
func New(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("ossserver: Config.Dir is empty")
	}
	if len(cfg.Credentials) == 0 {
		return nil, errors.New("ossserver: Config.Credentials is empty")
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	if cfg.MaxSkew == 0 {
		cfg.MaxSkew = DefaultMaxSkew
	}
	if cfg.MinPartSize == 0 {
		cfg.MinPartSize = DefaultMinPartSize
	}
	if cfg.MaxPartSize == 0 {
		cfg.MaxPartSize = DefaultMaxPartSize
	}
	if cfg.MaxParts == 0 {
		cfg.MaxParts = DefaultMaxParts
	}
	if cfg.MaxCopySize == 0 {
		cfg.MaxCopySize = DefaultMaxCopySize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, creds: map[string]Credential{}}
	for _, c := range cfg.Credentials {
		if c.AccessKeyID == "" || c.AccessKeySecret == "" {
			return nil, errors.New("ossserver: a credential needs AccessKeyID and AccessKeySecret")
		}
		s.creds[c.AccessKeyID] = c
	}
	st, err := openStore(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("ossserver: open %s: %w", cfg.Dir, err)
	}
	s.st = st
	return s, nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// Region is the region V4 signatures must name.
func (s *Server) Region() string { return s.cfg.Region }

// CreateBucket creates a bucket directly, without a request; creating one
// that exists is no error.
func (s *Server) CreateBucket(name string) error {
	if !validBucket(name) {
		return fmt.Errorf("ossserver: %q is not a bucket name", name)
	}
	_, _, err := s.st.createBucket(name, s.now().UTC())
	return err
}

// Uploads lists the multipart uploads in progress in bucket, as
// "key uploadID" lines, for tests that check nothing leaked.
func (s *Server) Uploads(bucket string) []string {
	b, ok := s.st.bucket(bucket)
	if !ok {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, u := range b.uploads {
		out = append(out, u.Key+" "+u.ID)
	}
	return out
}

// ListenAndServe serves on addr until ctx ends; it returns the base URL
// through ready once listening.
func (s *Server) ListenAndServe(ctx context.Context, addr string, ready func(url string)) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: time.Minute}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if ready != nil {
		ready("http://" + l.Addr().String())
	}
	err = hs.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// statusWriter remembers the status, for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
	code   string
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// request is one request being served.
type request struct {
	w      *statusWriter
	r      *http.Request
	id     string
	bucket string
	key    string
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	rq := &request{w: sw, r: r, id: strings.ToUpper(randomHex(12))}
	sw.Header().Set("X-Oss-Request-Id", rq.id)
	sw.Header().Set("Server", "AliyunOSS")
	sw.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	e := s.serve(rq)
	if e != nil {
		sw.code = e.code
		writeError(sw, r, rq.id, e)
	}
	if s.cfg.Logf != nil {
		s.cfg.Logf("ossserver: %s bucket=%q key=%q status=%d %s", r.Method, rq.bucket, rq.key, sw.status, sw.code)
	}
}

// address splits the request into bucket and key: virtual-host style
// (<bucket>.<Domain>/<key>) or path style (/<bucket>/<key>).
func (s *Server) address(r *http.Request) (bucket, key string) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	path := r.URL.Path
	if b, ok := strings.CutSuffix(strings.ToLower(host), "."+s.cfg.Domain); ok && b != "" {
		return b, strings.TrimPrefix(path, "/")
	}
	path = strings.TrimPrefix(path, "/")
	bucket, key, _ = strings.Cut(path, "/")
	return bucket, key
}

func validBucket(name string) bool {
	if len(name) < 3 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validKey(key string) bool {
	return len(key) >= 1 && len(key) <= 1023 && utf8.ValidString(key) && key[0] != '/' && key[0] != '\\'
}

func (s *Server) serve(rq *request) *ossError {
	r := rq.r
	rq.bucket, rq.key = s.address(r)
	if e := s.authenticate(r, rq.bucket, rq.key); e != nil {
		return e
	}
	if rq.bucket == "" {
		if r.Method == http.MethodGet {
			return s.listBuckets(rq)
		}
		return errf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	}
	if !validBucket(rq.bucket) {
		return errf(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.").with("BucketName", rq.bucket)
	}
	if rq.key == "" {
		return s.serveBucket(rq)
	}
	if !validKey(rq.key) {
		return errf(http.StatusBadRequest, "InvalidObjectName", "The specified object is not valid.")
	}
	b, ok := s.st.bucket(rq.bucket)
	if !ok {
		return errNoSuchBucket(rq.bucket)
	}
	q := r.URL.Query()
	switch r.Method {
	case http.MethodPut:
		switch {
		case q.Has("partNumber") || q.Has("uploadId"):
			return s.uploadPart(rq, b)
		case r.Header.Get("X-Oss-Copy-Source") != "":
			return s.copyObject(rq, b)
		}
		return s.putObject(rq, b)
	case http.MethodGet:
		if q.Has("uploadId") {
			return s.listParts(rq, b)
		}
		return s.getObject(rq, b, true)
	case http.MethodHead:
		return s.getObject(rq, b, false)
	case http.MethodDelete:
		if q.Has("uploadId") {
			return s.abortUpload(rq, b)
		}
		return s.deleteObject(rq, b)
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return s.initiateUpload(rq, b)
		case q.Has("uploadId"):
			return s.completeUpload(rq, b)
		case q.Has("append"):
			return s.appendObject(rq, b)
		}
	}
	return errf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
}

func (s *Server) serveBucket(rq *request) *ossError {
	r := rq.r
	q := r.URL.Query()
	if r.Method == http.MethodPut && len(q) == 0 {
		_, created, err := s.st.createBucket(rq.bucket, s.now().UTC())
		if err != nil {
			return errInternal(err)
		}
		if !created {
			return errf(http.StatusConflict, "BucketAlreadyExists", "The requested bucket name is not available.").with("BucketName", rq.bucket)
		}
		rq.w.Header().Set("Location", "/"+rq.bucket)
		rq.w.WriteHeader(http.StatusOK)
		return nil
	}
	b, ok := s.st.bucket(rq.bucket)
	if !ok {
		return errNoSuchBucket(rq.bucket)
	}
	switch {
	case r.Method == http.MethodDelete && len(q) == 0:
		if err := s.st.deleteBucket(rq.bucket); errors.Is(err, errBucketNotEmpty) {
			return errf(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty.").with("BucketName", rq.bucket)
		} else if err != nil {
			return errInternal(err)
		}
		rq.w.WriteHeader(http.StatusNoContent)
		return nil
	case r.Method == http.MethodHead:
		rq.w.WriteHeader(http.StatusOK)
		return nil
	case r.Method == http.MethodPost && q.Has("delete"):
		return s.deleteMultiple(rq, b)
	case r.Method == http.MethodGet && q.Has("uploads"):
		return s.listUploads(rq, b)
	case r.Method == http.MethodGet && q.Has("bucketInfo"):
		return s.bucketInfo(rq, b)
	case r.Method == http.MethodGet && q.Has("location"):
		return writeXML(rq, struct {
			XMLName xml.Name `xml:"LocationConstraint"`
			Value   string   `xml:",chardata"`
		}{Value: "oss-" + s.cfg.Region})
	case r.Method == http.MethodGet && q.Get("list-type") == "2":
		return s.listObjectsV2(rq, b)
	case r.Method == http.MethodGet && !hasOtherSubresource(q):
		return s.listObjects(rq, b)
	}
	return errf(http.StatusNotImplemented, "NotImplemented", "This server does not implement this bucket operation.")
}

// hasOtherSubresource reports a bucket sub-resource this server does not
// serve (acl, lifecycle, ...): those are not listings.
func hasOtherSubresource(q map[string][]string) bool {
	for k := range q {
		switch k {
		case "prefix", "delimiter", "marker", "max-keys", "encoding-type":
		default:
			return true
		}
	}
	return false
}

func writeXML(rq *request, v any) *ossError {
	body, err := xml.Marshal(v)
	if err != nil {
		return errInternal(err)
	}
	body = append([]byte(xml.Header), body...)
	rq.w.Header().Set("Content-Type", "application/xml")
	rq.w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	rq.w.WriteHeader(http.StatusOK)
	rq.w.Write(body)
	return nil
}

func (s *Server) bucketInfo(rq *request, b *bucket) *ossError {
	type info struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
		Location     string `xml:"Location"`
		StorageClass string `xml:"StorageClass"`
		Region       string `xml:"Region"`
	}
	return writeXML(rq, struct {
		XMLName xml.Name `xml:"BucketInfo"`
		Bucket  info     `xml:"Bucket"`
	}{Bucket: info{Name: b.name, CreationDate: b.created.Format(time.RFC3339),
		Location: "oss-" + s.cfg.Region, StorageClass: "Standard", Region: s.cfg.Region}})
}
