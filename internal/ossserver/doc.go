// Package ossserver is an Aliyun OSS protocol server for tests: it speaks
// what a registry storage driver uses, checks V1 and V4 signatures as OSS
// does, and keeps its data on disk. No open-source server does this
// faithfully (../shared/BACKENDS.md: the Ruby oss-emulator checks no
// signature and lacks half the calls; MinIO and RGW refuse OSS signatures),
// so the oss driver's tests run against this one, and against real OSS
// when credentials are set. Command cmd/ossserver runs it standalone.
//
// It lives under internal/ because it is test infrastructure whose Go API
// may change with the driver's needs; users get the command.
//
// # Configuration
//
// Config: a data directory (kept across restarts), the accepted key pairs
// (optionally with an STS security token each), the region V4 signatures
// must name (default cn-hangzhou), the base domain of virtual-host
// addressing (default oss.localhost: <bucket>.oss.localhost:port; any
// other host, an IP address included, is path-style /<bucket>/<key>, which
// is what aliyun-oss-go-sdk sends to an IP endpoint), and OSS's limits:
// 15 minutes of clock skew, parts of 100 KB (all but the last) to 5 GB,
// 10,000 parts, CopyObject up to 1 GB.
//
// # Protocol
//
// Objects: PutObject, GetObject with one range (OSS's default answers an
// invalid range with the whole object; x-oss-range-behavior: standard
// cuts an end past the object and answers a start past it with 416),
// HeadObject, DeleteObject, CopyObject (x-oss-copy-source,
// x-oss-copy-source-if-match, -if-none-match, x-oss-metadata-directive),
// AppendObject (POST ?append&position; 409 PositionNotEqualToLength with
// x-oss-next-append-position). Multipart: Initiate, UploadPart,
// UploadPartCopy (x-oss-copy-source-range), Complete (ascending part
// numbers, ETags checked, 100 KB minimum but for the last part,
// x-oss-complete-all), Abort, ListParts, ListMultipartUploads (a real
// prefix, markers, delimiter). Listings v1 and v2 (prefix, delimiter,
// marker, start-after, continuation token, encoding-type=url);
// DeleteMultipleObjects (Content-MD5 required, up to 1,000 keys); bucket
// create, delete (409 BucketNotEmpty), head, ?bucketInfo, ?location, and
// the service's bucket list.
//
// x-oss-forbid-overwrite: true on PutObject, CopyObject and
// CompleteMultipartUpload answers 409 FileAlreadyExists when the key
// exists. Here the check and the write happen under one lock, so of N
// racing writers exactly one wins; real OSS documents the header but not
// its atomicity under races. As OSS, the server refuses If-None-Match and
// If-Match (and If-[Un]Modified-Since) on writes (400 NotImplemented):
// forbid-overwrite is OSS's one conditional write.
//
// ETags are quoted upper-case hex MD5s; a completed multipart object's is
// the MD5 of the parts' MD5s, a dash and the part count. Every write and
// read answers x-oss-hash-crc64ecma, the CRC-64/ECMA-182 (XZ) of the whole
// object as aliyun-oss-go-sdk computes and checks it; parts and appends
// are combined, not re-read.
//
// # Authentication
//
// V1: Authorization: OSS <id>:<base64 HMAC-SHA1> over VERB, Content-MD5,
// Content-Type, Date, the sorted x-oss-* headers and /bucket/key with the
// signed sub-resources; presigned ?OSSAccessKeyId&Expires&Signature. V4:
// OSS4-HMAC-SHA256 with the scope <day>/<region>/oss/aliyun_v4_request,
// the key chain from "aliyun_v4"+secret, additional headers, and presigned
// x-oss-credential/x-oss-date/x-oss-expires/x-oss-signature URLs. Refused
// as OSS refuses: SignatureDoesNotMatch, InvalidAccessKeyId,
// RequestTimeTooSkewed (header-signed, more than 15 minutes off),
// AccessDenied (anonymous, or an expired presigned URL).
//
// # Errors
//
// Errors are OSS's XML documents (Code, Message, RequestId, HostId and
// OSS's extra elements), with OSS's codes and statuses. Logf gets one
// line per request (method, bucket, key, status, code); no header, query
// string or credential is ever logged.
//
// # Consistency
//
// A bucket's metadata is held in memory under one mutex per bucket and
// written through to disk (temp file, then rename) before a request is
// answered; data files are written once to a temp file, renamed into
// place and never modified (a copy hard-links them), so a reader that
// opened an object keeps reading the version it opened. Listings and
// reads see every acknowledged write at once.
package ossserver
