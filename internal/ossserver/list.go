package ossserver

import (
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

type prefixXML struct {
	Prefix string `xml:"Prefix"`
}

type ownerXML struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

type contentsXML struct {
	Key          string    `xml:"Key"`
	LastModified string    `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Type         string    `xml:"Type"`
	Size         int64     `xml:"Size"`
	StorageClass string    `xml:"StorageClass"`
	Owner        *ownerXML `xml:"Owner,omitempty"`
}

// urlEncode is OSS's encoding-type=url: query escaping, which the SDK
// undoes with url.QueryUnescape.
func urlEncode(s string) string { return url.QueryEscape(s) }

// listing is one page of a delimited listing of b's keys.
type listing struct {
	objects   []*object
	prefixes  []string
	truncated bool
	last      string // the last key or common prefix returned
}

// list walks b's keys with prefix after marker, grouping keys by delim,
// up to max entries (keys and common prefixes alike).
func (b *bucket) list(prefix, delim, marker string, max int) listing {
	b.mu.Lock()
	keys := make([]*object, 0, len(b.objects))
	for k, o := range b.objects {
		if strings.HasPrefix(k, prefix) && k > marker {
			keys = append(keys, o)
		}
	}
	b.mu.Unlock()
	slices.SortFunc(keys, func(x, y *object) int { return strings.Compare(x.Key, y.Key) })
	var l listing
	for _, o := range keys {
		if delim != "" && strings.HasSuffix(marker, delim) && strings.HasPrefix(o.Key, marker) && len(marker) > len(prefix) {
			continue // below the common prefix the last page ended with
		}
		cp := ""
		if delim != "" {
			if i := strings.Index(o.Key[len(prefix):], delim); i >= 0 {
				cp = o.Key[:len(prefix)+i+len(delim)]
			}
		}
		if cp != "" && len(l.prefixes) > 0 && l.prefixes[len(l.prefixes)-1] == cp {
			continue
		}
		if len(l.objects)+len(l.prefixes) == max {
			l.truncated = true
			break
		}
		if cp != "" {
			l.prefixes = append(l.prefixes, cp)
			l.last = cp
			continue
		}
		l.objects = append(l.objects, o)
		l.last = o.Key
	}
	return l
}

func (rq *request) contents(objs []*object, owner bool) []contentsXML {
	out := make([]contentsXML, len(objs))
	for i, o := range objs {
		out[i] = contentsXML{Key: encodeIf(rq, o.Key), LastModified: o.Modified.Format("2006-01-02T15:04:05.000Z"),
			ETag: quoted(o.ETag), Type: o.Type, Size: o.Size, StorageClass: "Standard"}
		if owner {
			out[i].Owner = &ownerXML{ID: "berth", DisplayName: "berth"}
		}
	}
	return out
}

func (rq *request) prefixes(ps []string) []prefixXML {
	out := make([]prefixXML, len(ps))
	for i, p := range ps {
		out[i] = prefixXML{encodeIf(rq, p)}
	}
	return out
}

func (s *Server) listObjects(rq *request, b *bucket) *ossError {
	q := rq.r.URL.Query()
	max, e := maxParam(rq, "max-keys", 100, 1000)
	if e != nil {
		return e
	}
	prefix, delim, marker := q.Get("prefix"), q.Get("delimiter"), q.Get("marker")
	l := b.list(prefix, delim, marker, max)
	res := struct {
		XMLName        xml.Name      `xml:"ListBucketResult"`
		Name           string        `xml:"Name"`
		Prefix         string        `xml:"Prefix"`
		Marker         string        `xml:"Marker"`
		MaxKeys        int           `xml:"MaxKeys"`
		Delimiter      string        `xml:"Delimiter"`
		IsTruncated    bool          `xml:"IsTruncated"`
		NextMarker     string        `xml:"NextMarker,omitempty"`
		EncodingType   string        `xml:"EncodingType,omitempty"`
		Contents       []contentsXML `xml:"Contents"`
		CommonPrefixes []prefixXML   `xml:"CommonPrefixes"`
	}{Name: b.name, Prefix: encodeIf(rq, prefix), Marker: encodeIf(rq, marker), MaxKeys: max, Delimiter: encodeIf(rq, delim),
		IsTruncated: l.truncated, EncodingType: q.Get("encoding-type"), Contents: rq.contents(l.objects, true), CommonPrefixes: rq.prefixes(l.prefixes)}
	if l.truncated {
		res.NextMarker = encodeIf(rq, l.last)
	}
	return writeXML(rq, res)
}

// Continuation tokens are opaque to clients: here the last key returned,
// base64url-encoded, so that they need no escaping.
func continuationToken(last string) string { return base64.RawURLEncoding.EncodeToString([]byte(last)) }

func (s *Server) listObjectsV2(rq *request, b *bucket) *ossError {
	q := rq.r.URL.Query()
	max, e := maxParam(rq, "max-keys", 100, 1000)
	if e != nil {
		return e
	}
	prefix, delim, after := q.Get("prefix"), q.Get("delimiter"), q.Get("start-after")
	marker := after
	if tok := q.Get("continuation-token"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return errInvalidArgument("The continuation token provided is incorrect.").with("ArgumentName", "continuation-token")
		}
		marker = max2(marker, string(raw))
	}
	l := b.list(prefix, delim, marker, max)
	res := struct {
		XMLName               xml.Name      `xml:"ListBucketResult"`
		Name                  string        `xml:"Name"`
		Prefix                string        `xml:"Prefix"`
		StartAfter            string        `xml:"StartAfter,omitempty"`
		ContinuationToken     string        `xml:"ContinuationToken,omitempty"`
		MaxKeys               int           `xml:"MaxKeys"`
		Delimiter             string        `xml:"Delimiter"`
		IsTruncated           bool          `xml:"IsTruncated"`
		NextContinuationToken string        `xml:"NextContinuationToken,omitempty"`
		KeyCount              int           `xml:"KeyCount"`
		EncodingType          string        `xml:"EncodingType,omitempty"`
		Contents              []contentsXML `xml:"Contents"`
		CommonPrefixes        []prefixXML   `xml:"CommonPrefixes"`
	}{Name: b.name, Prefix: encodeIf(rq, prefix), StartAfter: encodeIf(rq, after), ContinuationToken: q.Get("continuation-token"),
		MaxKeys: max, Delimiter: encodeIf(rq, delim), IsTruncated: l.truncated, KeyCount: len(l.objects) + len(l.prefixes),
		EncodingType: q.Get("encoding-type"), Contents: rq.contents(l.objects, q.Get("fetch-owner") == "true"), CommonPrefixes: rq.prefixes(l.prefixes)}
	if l.truncated {
		res.NextContinuationToken = continuationToken(l.last)
	}
	return writeXML(rq, res)
}

func max2(a, b string) string {
	if a > b {
		return a
	}
	return b
}

// deleteMultiple serves DeleteMultipleObjects: up to 1,000 keys, each
// deleted under the bucket's lock; a missing key counts as deleted.
func (s *Server) deleteMultiple(rq *request, b *bucket) *ossError {
	r := rq.r
	raw, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return errMalformedXML()
	}
	if md5 := r.Header.Get("Content-MD5"); md5 == "" {
		return errf(http.StatusBadRequest, "MissingArgument", "Content-MD5 is required for DeleteMultipleObjects.").with("ArgumentName", "Content-MD5")
	} else if md5 != md5Base64(raw) {
		return errf(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified is not valid.")
	}
	var doc struct {
		XMLName xml.Name `xml:"Delete"`
		Quiet   bool     `xml:"Quiet"`
		Objects []struct {
			Key string `xml:"Key"`
		} `xml:"Object"`
	}
	if err := xml.Unmarshal(raw, &doc); err != nil || len(doc.Objects) == 0 {
		return errMalformedXML()
	}
	if len(doc.Objects) > 1000 {
		return errMalformedXML().with("Reason", "more than 1000 objects")
	}
	type deleted struct {
		Key string `xml:"Key"`
	}
	res := struct {
		XMLName      xml.Name  `xml:"DeleteResult"`
		EncodingType string    `xml:"EncodingType,omitempty"`
		Deleted      []deleted `xml:"Deleted"`
	}{EncodingType: r.URL.Query().Get("encoding-type")}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, o := range doc.Objects {
		if !validKey(o.Key) {
			return errf(http.StatusBadRequest, "InvalidObjectName", "The specified object is not valid.")
		}
	}
	for _, o := range doc.Objects {
		if _, err := s.st.deleteObject(b, o.Key); err != nil {
			return errInternal(err)
		}
		if !doc.Quiet {
			res.Deleted = append(res.Deleted, deleted{encodeIf(rq, o.Key)})
		}
	}
	return writeXML(rq, res)
}

func (s *Server) listBuckets(rq *request) *ossError {
	q := rq.r.URL.Query()
	prefix, marker := q.Get("prefix"), q.Get("marker")
	max, e := maxParam(rq, "max-keys", 100, 1000)
	if e != nil {
		return e
	}
	type bucketXML struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
		Location     string `xml:"Location"`
		Region       string `xml:"Region"`
		StorageClass string `xml:"StorageClass"`
	}
	res := struct {
		XMLName     xml.Name    `xml:"ListAllMyBucketsResult"`
		Prefix      string      `xml:"Prefix"`
		Marker      string      `xml:"Marker"`
		MaxKeys     int         `xml:"MaxKeys"`
		IsTruncated bool        `xml:"IsTruncated"`
		NextMarker  string      `xml:"NextMarker,omitempty"`
		Owner       ownerXML    `xml:"Owner"`
		Buckets     []bucketXML `xml:"Buckets>Bucket"`
	}{Prefix: prefix, Marker: marker, MaxKeys: max, Owner: ownerXML{ID: "berth", DisplayName: "berth"}}
	all := s.st.buckets()
	slices.SortFunc(all, func(x, y *bucket) int { return strings.Compare(x.name, y.name) })
	for _, b := range all {
		if !strings.HasPrefix(b.name, prefix) || b.name <= marker {
			continue
		}
		if len(res.Buckets) == max {
			res.IsTruncated = true
			res.NextMarker = res.Buckets[len(res.Buckets)-1].Name
			break
		}
		res.Buckets = append(res.Buckets, bucketXML{Name: b.name, CreationDate: b.created.Format(time.RFC3339),
			Location: "oss-" + s.cfg.Region, Region: s.cfg.Region, StorageClass: "Standard"})
	}
	return writeXML(rq, res)
}
