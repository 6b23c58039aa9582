package ossserver

import (
	"encoding/xml"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// encodeIf URL-encodes s when the request asked for encoding-type=url, as
// OSS does for keys and prefixes in its XML answers.
func encodeIf(rq *request, s string) string {
	if rq.r.URL.Query().Get("encoding-type") == "url" {
		return urlEncode(s)
	}
	return s
}

func (s *Server) initiateUpload(rq *request, b *bucket) *ossError {
	if e := rejectConditionalPut(rq.r); e != nil {
		return e
	}
	sse, e := sseOf(rq.r)
	if e != nil {
		return e
	}
	u := &upload{ID: strings.ToUpper(randomHex(16)), Key: rq.key, Initiated: s.now().UTC(),
		ContentType: rq.r.Header.Get("Content-Type"), SSE: sse, Parts: map[int]*part{}}
	b.mu.Lock()
	err := s.st.putUpload(b, u)
	b.mu.Unlock()
	if err != nil {
		return errInternal(err)
	}
	if sse != "" {
		rq.w.Header().Set("X-Oss-Server-Side-Encryption", sse)
	}
	return writeXML(rq, struct {
		XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		UploadID string   `xml:"UploadId"`
	}{Bucket: b.name, Key: encodeIf(rq, rq.key), UploadID: u.ID})
}

// lookupUpload finds the upload named by ?uploadId (b.mu held).
func lookupUpload(rq *request, b *bucket) (*upload, *ossError) {
	id := rq.r.URL.Query().Get("uploadId")
	u, ok := b.uploads[id]
	if !ok || u.Key != rq.key {
		return nil, errNoSuchUpload(id)
	}
	return u, nil
}

// uploadPart serves UploadPart and, with x-oss-copy-source,
// UploadPartCopy (with x-oss-copy-source-range, or the whole source).
func (s *Server) uploadPart(rq *request, b *bucket) *ossError {
	r := rq.r
	n, err := strconv.Atoi(r.URL.Query().Get("partNumber"))
	if err != nil || n < 1 || n > s.cfg.MaxParts {
		return errInvalidArgument("Part number must be an integer between 1 and %d, inclusive.", s.cfg.MaxParts).
			with("ArgumentName", "partNumber")
	}
	b.mu.Lock()
	_, e := lookupUpload(rq, b)
	b.mu.Unlock()
	if e != nil {
		return e
	}
	copying := r.Header.Get("X-Oss-Copy-Source") != ""
	var bd *body
	if copying {
		bd, e = s.receiveCopy(rq)
	} else {
		bd, e = s.receiveBody(r, s.cfg.MaxPartSize)
	}
	if e != nil {
		return e
	}
	defer bd.discard()

	b.mu.Lock()
	defer b.mu.Unlock()
	u, e := lookupUpload(rq, b) // again: it may have been completed or aborted meanwhile
	if e != nil {
		return e
	}
	name, err := b.install(bd)
	if err != nil {
		return errInternal(err)
	}
	p := &part{N: n, ETag: etagOf(bd.md5), Size: bd.size, CRC: bd.crc, File: name, Modified: s.now().UTC()}
	if err := s.st.putPart(b, u, p); err != nil {
		b.removeData([]segment{{File: name}}, nil)
		return errInternal(err)
	}
	if copying {
		return writeXML(rq, struct {
			XMLName      xml.Name `xml:"CopyPartResult"`
			LastModified string   `xml:"LastModified"`
			ETag         string   `xml:"ETag"`
		}{LastModified: p.Modified.Format(time.RFC3339), ETag: quoted(p.ETag)})
	}
	h := rq.w.Header()
	h.Set("ETag", quoted(p.ETag))
	h.Set("X-Oss-Hash-Crc64ecma", strconv.FormatUint(p.CRC, 10))
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// receiveCopy reads the source range of an UploadPartCopy into a temp
// file. The source's files are opened under its bucket's lock; the bytes
// are copied without it.
func (s *Server) receiveCopy(rq *request) (*body, *ossError) {
	r := rq.r
	sb, skey, e := s.copySource(r)
	if e != nil {
		return nil, e
	}
	sb.mu.Lock()
	src, ok := sb.objects[skey]
	if !ok {
		sb.mu.Unlock()
		return nil, errNoSuchKey(skey)
	}
	if e := copyPrecondition(r, src); e != nil {
		sb.mu.Unlock()
		return nil, e
	}
	off, n := int64(0), src.Size
	if h := r.Header.Get("X-Oss-Copy-Source-Range"); h != "" {
		roff, rn, syntaxOK, valid := parseRange(h, src.Size)
		if !syntaxOK || !valid {
			sb.mu.Unlock()
			return nil, errInvalidArgument("x-oss-copy-source-range %q is not a range inside the %d-byte source.", h, src.Size).
				with("ArgumentName", "x-oss-copy-source-range")
		}
		off, n = roff, rn
	}
	if n > s.cfg.MaxPartSize {
		sb.mu.Unlock()
		return nil, errf(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
	}
	rc, err := sb.openRange(src, off, n)
	sb.mu.Unlock()
	if err != nil {
		return nil, errInternal(err)
	}
	defer rc.Close()
	bd, err := s.st.receive(rc)
	if err != nil {
		return nil, errInternal(err)
	}
	return bd, nil
}

type completeXML struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

func (s *Server) completeUpload(rq *request, b *bucket) *ossError {
	r := rq.r
	if e := rejectConditionalPut(r); e != nil {
		return e
	}
	all := strings.EqualFold(r.Header.Get("X-Oss-Complete-All"), "yes")
	var doc completeXML
	if !all {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			return errMalformedXML()
		}
		if err := xml.Unmarshal(raw, &doc); err != nil || len(doc.Parts) == 0 {
			return errMalformedXML()
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	u, e := lookupUpload(rq, b)
	if e != nil {
		return e
	}
	var chosen []*part
	if all {
		for _, p := range u.Parts {
			chosen = append(chosen, p)
		}
		slices.SortFunc(chosen, func(a, b *part) int { return a.N - b.N })
		if len(chosen) == 0 {
			return errInvalidArgument("The upload has no parts to complete.")
		}
	} else {
		prev := 0
		for _, dp := range doc.Parts {
			if dp.PartNumber <= prev {
				return errf(http.StatusBadRequest, "InvalidPartOrder", "The list of parts was not in ascending order.")
			}
			prev = dp.PartNumber
			p, ok := u.Parts[dp.PartNumber]
			if !ok || !sameETag(dp.ETag, p.ETag) {
				return errf(http.StatusBadRequest, "InvalidPart",
					"One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.").
					with("PartNumber", strconv.Itoa(dp.PartNumber)).with("ETag", dp.ETag)
			}
			chosen = append(chosen, p)
		}
	}
	for _, p := range chosen[:len(chosen)-1] {
		if p.Size < s.cfg.MinPartSize {
			return errf(http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size.").
				with("PartNumber", strconv.Itoa(p.N)).with("MinSizeAllowed", strconv.FormatInt(s.cfg.MinPartSize, 10))
		}
	}
	if _, exists := b.objects[rq.key]; exists && forbidOverwrite(r) {
		return errFileAlreadyExists()
	}
	o := &object{Key: rq.key, Type: "Multipart", ETag: multipartETag(chosen), Modified: s.now().UTC(),
		ContentType: u.ContentType, SSE: u.SSE}
	for _, p := range chosen {
		o.Segments = append(o.Segments, segment{File: p.File, Size: p.Size, CRC: p.CRC})
		o.CRC = crcCombine(o.CRC, p.CRC, p.Size)
		o.Size += p.Size
	}
	if err := s.st.putObject(b, o); err != nil {
		return errInternal(err)
	}
	if err := s.st.dropUpload(b, u, o.Segments); err != nil {
		return errInternal(err)
	}
	rq.w.Header().Set("ETag", quoted(o.ETag))
	rq.w.Header().Set("X-Oss-Hash-Crc64ecma", strconv.FormatUint(o.CRC, 10))
	return writeXML(rq, struct {
		XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
		Location string   `xml:"Location"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		ETag     string   `xml:"ETag"`
	}{Location: "http://" + r.Host + "/" + b.name + "/" + urlEncode(rq.key), Bucket: b.name, Key: encodeIf(rq, rq.key), ETag: quoted(o.ETag)})
}

func (s *Server) abortUpload(rq *request, b *bucket) *ossError {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, e := lookupUpload(rq, b)
	if e != nil {
		return e
	}
	if err := s.st.dropUpload(b, u, nil); err != nil {
		return errInternal(err)
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// maxParam reads a max-keys style parameter: default def, at most limit.
func maxParam(rq *request, name string, def, limit int) (int, *ossError) {
	v := rq.r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > limit {
		return 0, errInvalidArgument("%s must be 1 to %d.", name, limit).with("ArgumentName", name)
	}
	return n, nil
}

func (s *Server) listParts(rq *request, b *bucket) *ossError {
	q := rq.r.URL.Query()
	maxParts, e := maxParam(rq, "max-parts", 1000, 1000)
	if e != nil {
		return e
	}
	marker, _ := strconv.Atoi(q.Get("part-number-marker"))
	type partXML struct {
		PartNumber   int    `xml:"PartNumber"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
	}
	type result struct {
		XMLName              xml.Name  `xml:"ListPartsResult"`
		Bucket               string    `xml:"Bucket"`
		Key                  string    `xml:"Key"`
		UploadID             string    `xml:"UploadId"`
		PartNumberMarker     int       `xml:"PartNumberMarker"`
		NextPartNumberMarker int       `xml:"NextPartNumberMarker"`
		MaxParts             int       `xml:"MaxParts"`
		IsTruncated          bool      `xml:"IsTruncated"`
		Parts                []partXML `xml:"Part"`
	}
	b.mu.Lock()
	u, e := lookupUpload(rq, b)
	if e != nil {
		b.mu.Unlock()
		return e
	}
	var nums []int
	for n := range u.Parts {
		if n > marker {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	res := result{Bucket: b.name, Key: encodeIf(rq, rq.key), UploadID: u.ID, PartNumberMarker: marker, MaxParts: maxParts}
	for _, n := range nums {
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		p := u.Parts[n]
		res.Parts = append(res.Parts, partXML{PartNumber: p.N, LastModified: p.Modified.Format(time.RFC3339), ETag: quoted(p.ETag), Size: p.Size})
		res.NextPartNumberMarker = p.N
	}
	b.mu.Unlock()
	return writeXML(rq, res)
}

func (s *Server) listUploads(rq *request, b *bucket) *ossError {
	q := rq.r.URL.Query()
	maxUploads, e := maxParam(rq, "max-uploads", 1000, 1000)
	if e != nil {
		return e
	}
	prefix, delim, keyMarker, idMarker := q.Get("prefix"), q.Get("delimiter"), q.Get("key-marker"), q.Get("upload-id-marker")
	type uploadXML struct {
		Key       string `xml:"Key"`
		UploadID  string `xml:"UploadId"`
		Initiated string `xml:"Initiated"`
	}
	type result struct {
		XMLName            xml.Name    `xml:"ListMultipartUploadsResult"`
		Bucket             string      `xml:"Bucket"`
		KeyMarker          string      `xml:"KeyMarker"`
		UploadIDMarker     string      `xml:"UploadIdMarker"`
		NextKeyMarker      string      `xml:"NextKeyMarker"`
		NextUploadIDMarker string      `xml:"NextUploadIdMarker"`
		Delimiter          string      `xml:"Delimiter"`
		Prefix             string      `xml:"Prefix"`
		MaxUploads         int         `xml:"MaxUploads"`
		IsTruncated        bool        `xml:"IsTruncated"`
		Uploads            []uploadXML `xml:"Upload"`
		CommonPrefixes     []prefixXML `xml:"CommonPrefixes"`
	}
	b.mu.Lock()
	ups := make([]*upload, 0, len(b.uploads))
	for _, u := range b.uploads {
		if strings.HasPrefix(u.Key, prefix) {
			ups = append(ups, u)
		}
	}
	b.mu.Unlock()
	slices.SortFunc(ups, func(x, y *upload) int {
		if c := strings.Compare(x.Key, y.Key); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	res := result{Bucket: b.name, KeyMarker: encodeIf(rq, keyMarker), UploadIDMarker: idMarker,
		Delimiter: encodeIf(rq, delim), Prefix: encodeIf(rq, prefix), MaxUploads: maxUploads}
	seen := map[string]bool{}
	count := 0
	for _, u := range ups {
		if keyMarker != "" && (u.Key < keyMarker || u.Key == keyMarker && (idMarker == "" || u.ID <= idMarker)) {
			continue
		}
		if delim != "" && strings.HasSuffix(keyMarker, delim) && strings.HasPrefix(u.Key, keyMarker) {
			continue // below a common prefix the last page ended with
		}
		cp := ""
		if delim != "" {
			if i := strings.Index(u.Key[len(prefix):], delim); i >= 0 {
				cp = u.Key[:len(prefix)+i+len(delim)]
			}
		}
		if cp != "" && seen[cp] {
			continue
		}
		if count == maxUploads {
			res.IsTruncated = true
			break
		}
		count++
		if cp != "" {
			seen[cp] = true
			res.CommonPrefixes = append(res.CommonPrefixes, prefixXML{encodeIf(rq, cp)})
			res.NextKeyMarker, res.NextUploadIDMarker = encodeIf(rq, cp), ""
			continue
		}
		res.Uploads = append(res.Uploads, uploadXML{Key: encodeIf(rq, u.Key), UploadID: u.ID, Initiated: u.Initiated.Format(time.RFC3339)})
		res.NextKeyMarker, res.NextUploadIDMarker = encodeIf(rq, u.Key), u.ID
	}
	return writeXML(rq, res)
}
