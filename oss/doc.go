// Package oss is the driver for Aliyun OSS (Object Storage Service),
// shared by several registry replicas. It uses aliyun-oss-go-sdk (v3.0.2)
// and is tested against internal/ossserver, an OSS-protocol server that
// checks V1 and V4 signatures (started in-process by the tests; also the
// standalone command cmd/ossserver), and against real OSS when the
// BERTH_OSS_* variables of the conformance tests are set.
//
// # Configuration
//
// Config is the typed form. New fills what it leaves empty from the
// environment (OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET and
// OSS_SESSION_TOKEN as a set, when AccessKeyID is empty; OSS_REGION;
// OSS_ENDPOINT), validates it without a network call, then lists at most
// one key of the bucket (no retries, at most 15 s), so that a wrong
// configuration fails at start and not at the first push. New never
// creates the bucket. Fields, with their defaults:
//
//   - Bucket: required, an OSS bucket name.
//   - RootDirectory: key prefix, "" for the bucket root; a path /a/b is
//     stored at key <root>/a/b, as distribution lays keys out.
//   - Region: required for V4 signing and for a derived endpoint;
//     "cn-hangzhou" (distribution's "oss-cn-hangzhou" is accepted).
//   - Endpoint: "" derives https://oss-<region>.aliyuncs.com, or with
//     Internal https://oss-<region>-internal.aliyuncs.com (Aliyun's
//     internal network), http:// with Insecure. An explicit Endpoint is an
//     http(s) URL with no credentials, path or query. PathStyle: false
//     (the SDK uses path style by itself for an IP-address endpoint).
//   - AccessKeyID, AccessKeySecret, SecurityToken (STS): the secrets are
//     driver.Secret, printed as REDACTED; no error or log line holds one.
//   - SignatureVersion: "v4" (OSS4-HMAC-SHA256) or "v1" (HMAC-SHA1).
//   - CACertFile: PEM CAs trusted besides the system's. InsecureSkipVerify:
//     false.
//   - SSE: "" (the bucket's default), "AES256", "KMS" (SSEKMSKeyID: the
//     key, "" for the account's default) or "SM4".
//   - PartSize: 32 MiB, from OSS's 100 KiB to 5 GiB, grown for uploads
//     that would need more than MaxParts (10,000) parts. Concurrency: 4
//     parts in flight per writer, 1 to 64; a writer buffers at most
//     PartSize x Concurrency.
//   - CopyThreshold: 1 GiB, CopyObject's limit on OSS; a Move of a larger
//     object copies it with UploadPartCopy parts of CopyPartSize (128
//     MiB), CopyConcurrency (8) at a time.
//   - RedirectExpiry: 20m, 1s to 7 days. DisableRedirect: false.
//
// The URL form, for Registry.Open:
//
//	oss://bucket/root/dir?region=cn-hangzhou&endpoint=https://oss-cn-hangzhou.aliyuncs.com
//
// takes the query keys region, endpoint, internal, insecure, path_style,
// access_key_id, access_key_secret, security_token, signature_version,
// ca_cert_file, insecure_skip_verify, sse, sse_kms_key_id, part_size,
// concurrency, copy_threshold, copy_part_size, copy_concurrency,
// redirect_expiry (a Go duration) and disable_redirect. A secret in a URL
// ends up in shell histories: the OSS_* environment is the better place.
// No error echoes the URL or a credential; user:password@ is refused.
//
// Distribution's oss parameter map (Factory.FromParameters) is decoded
// strictly, an unknown key being an error: accesskeyid, accesskeysecret,
// region, endpoint (a bare host takes https, or http with secure: false;
// internal is then ignored, as distribution does), internal, encrypt (SSE
// "AES256", or "KMS" with encryptionkeyid; encryptionkeyid without encrypt
// is refused), secure, chunksize (PartSize), rootdirectory and bucket.
// Berth's own keys fill what distribution has no name for: securitytoken,
// signatureversion, pathstyle, skipverify, cacertfile, concurrency,
// copythreshold, copypartsize, copyconcurrency, redirectexpiry,
// disableredirect.
//
// # Errors
//
// The OSS error code decides an error's kind first, then the HTTP status
// alone (a HEAD answer has no body): NoSuchKey, NoSuchUpload and 404 are
// ErrNotFound; AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch,
// RequestTimeTooSkewed, security-token errors and 403 are ErrPermission;
// FileAlreadyExists, PositionNotEqualToLength, PreconditionFailed, 409 and
// 412 are ErrConflict; InvalidRange and 416 ErrInvalidOffset;
// EntityTooLarge ErrTooLarge; InvalidObjectName ErrInvalidPath;
// NotImplemented and 501 ErrUnsupported. NoSuchBucket is ErrInvalidConfig,
// not ErrNotFound: the bucket existed when New checked it, and a registry
// told "not found" would answer 404 for every blob instead of failing
// loudly. Anything else (5xx, connection errors) has no kind. The SDK's
// oss.ServiceError stays reachable with errors.As.
//
// At New, an endpoint that refuses the connection, fails TLS verification
// or does not answer within 15 s is ErrInvalidConfig ("cannot reach"), as
// are a missing bucket and a request OSS refuses as malformed (a wrong
// Region under V4); refused credentials are ErrPermission ("refused
// access ... check AccessKeyID and AccessKeySecret"), and so is a clock
// more than 15 minutes off. A context the caller cancelled is reported
// as such, with no kind. The SDK retries nothing; neither does the driver,
// except where an outcome is read back (see Consistency).
//
// # Consistency
//
// Upload state lives in the bucket, never in a process, under
// .berth/uploads/<path>~u/ below the root directory: a chain of immutable
// JSON records v.<n>, each created with x-oss-forbid-overwrite: true,
// OSS's one conditional write (OSS refuses If-None-Match and If-Match on
// writes), so publishing the next record is a compare-and-swap on the
// head. A write whose answer was lost, or refused as existing, is read
// back and compared, so that our own write is not taken for another's
// (F5).
//
// Real OSS documents x-oss-forbid-overwrite (409 FileAlreadyExists when the
// key exists) but not whether it is atomic when several writers race to
// create one key: its atomicity under races is undocumented. The test
// server makes it atomic, and the driver declares FencingStrict on that
// basis; the conformance suite run against real OSS (backend oss-real)
// measures whether a stale writer ever goes undetected there.
//
//   - One multipart upload per upload, its id pinned in the records; it is
//     never found again with ListMultipartUploads (F9, F10).
//   - Close uploads full parts, puts the rest in a tail object of its own
//     session and publishes a record naming both: any instance's
//     Writer(append) continues from there, reading back at most one part.
//     Non-final parts are all exactly PartSize (F14).
//   - Part numbers are reserved in the records, in windows that double as
//     a session streams; a new session starts above every earlier
//     reservation, and extending a reservation is a publish, so a fenced
//     session can neither overwrite another's part nor go on past its
//     window.
//   - Commit and Cancel first seal the head (sealed.<n>, forbid-overwrite):
//     of two sessions completing one upload only the owner gets through.
//     The object appears whole, by one PutObject or one
//     CompleteMultipartUpload.
//   - Move claims the source (.berth/moves/<src>~m, forbid-overwrite)
//     before copying, so of two replicas moving one source exactly one
//     does it and the other gets ErrNotFound (F2). It copies with one
//     CopyObject up to CopyThreshold (1 GiB) and with UploadPartCopy above
//     it, every copy conditional on the source's ETag
//     (x-oss-copy-source-if-match); the destination appears whole or not
//     at all, and a failed copy aborts its multipart upload (F13, F16).
//   - Delete lists keys below path/ (never a sibling sharing the prefix),
//     seals every upload at or below the path so that its writer gets
//     ErrConflict instead of bringing the data back, aborts its multipart
//     upload, and aborts any other multipart upload at or below the path
//     (OSS lists uploads by a real prefix). Keys go 1,000 per
//     DeleteMultipleObjects.
//   - Reads with a range always send x-oss-range-behavior: standard: by
//     default OSS answers a range past the end with the whole object and
//     status 200, which a reader would take for the range.
//
// With no size hint an upload holds at most MaxParts parts of PartSize (32
// MiB: 312 GiB); driver.WithSizeHint on the Writer's context raises the
// part size to fit (1 TiB: 117 MiB parts), or refuses a size past OSS's
// 48.8 TB object limit with ErrTooLarge before anything is sent (F12).
//
// OSS lists a write as soon as it returns (Listing: Strong). Store.Sweep
// removes stale Move claims and multipart uploads no record names.
//
// # Escape hatches
//
// Store.As reaches the SDK: a **oss.Client or a **oss.Bucket (of
// aliyun-oss-go-sdk).
//
//	var b *oss.Bucket
//	if store.As(&b) { ... }
package oss
