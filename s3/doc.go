// Package s3 is the driver for Amazon S3 and S3-compatible servers (MinIO,
// Ceph RGW), shared by several registry replicas. It uses aws-sdk-go-v2
// and is tested against real MinIO and Ceph RGW servers.
//
// # Configuration
//
// Config is the typed form; New validates it without a network call, then
// checks the bucket with one HeadBucket (no retries, at most 15 s), so that
// a wrong configuration fails at start and not at the first push. New
// never creates the bucket. Fields, with their defaults:
//
//   - Bucket: required.
//   - RootDirectory: key prefix, "" for the bucket root; leading and
//     trailing '/' are dropped, components are [A-Za-z0-9._-]+. A path
//     /a/b is stored at key <root>/a/b, as distribution lays keys out.
//   - Region: "us-east-1". Endpoint: "" (AWS), or the http(s) URL of an
//     S3-compatible server. PathStyle: false; MinIO and RGW want true.
//   - AccessKey, SecretKey, SessionToken: static credentials. With
//     AccessKey empty the SDK's default chain applies (AWS_ACCESS_KEY_ID
//     and the other AWS_* variables, ~/.aws files, web identity, ECS and
//     EC2 roles), and with it the SDK's other environment settings, which
//     explicit fields override. With static keys no AWS_* variable or
//     ~/.aws file is read. The secrets are driver.Secret: a Config prints them as
//     REDACTED, and no error ever holds one.
//   - CACertFile: PEM CAs trusted besides the system's. InsecureSkipVerify:
//     false (TLS is verified unless this is set; for tests only).
//   - SSE: "" (bucket default), "AES256" or "aws:kms"; SSEKMSKeyID only
//     with "aws:kms". StorageClass: "" (server default) or an S3 class that
//     reads without a restore. ObjectACL: "" (none sent) or a canned ACL.
//   - PartSize: 32 MiB, 5 MiB to 5 GiB, grown for uploads that would need
//     more than MaxParts (10,000) parts. Concurrency: 4 parts in flight
//     per writer, 1 to 64; a writer buffers at most PartSize x Concurrency.
//   - CopyThreshold: 5 GiB; a Move of a larger object copies it with
//     UploadPartCopy parts of CopyPartSize (128 MiB), CopyConcurrency (8)
//     at a time. A smaller one is one CopyObject, which RGW serves without
//     copying the data.
//   - ChecksumMode: "when_required", or "when_supported" (CRC32 on uploads,
//     validation of downloads that carry one).
//   - CommitMode: "auto" (probe the server), "direct" or "staged"; see
//     Consistency.
//   - RedirectExpiry: 20m, 1s to 7 days. DisableRedirect: false.
//
// The URL form, for Registry.Open:
//
//	s3://bucket/root/dir?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true
//
// takes the query keys endpoint, region, path_style, access_key,
// secret_key, session_token, ca_cert_file, insecure_skip_verify, sse,
// sse_kms_key_id, storage_class, object_acl, part_size, concurrency,
// copy_threshold, copy_part_size, copy_concurrency, checksum_mode,
// commit_mode, redirect_expiry (a Go duration such as 20m) and disable_redirect. A
// secret in a URL tends to end up in shell history and process lists:
// the AWS_* environment is the better place for it. No error echoes the
// URL or a credential; user:password@ in the URL is refused.
//
// Distribution's parameter map (the storage.s3 section of a registry's
// config, Factory.FromParameters) is decoded strictly, an unknown key being
// an error: bucket, rootdirectory, region, regionendpoint (Endpoint; a
// bare host:port takes https, or http with secure: false), forcepathstyle,
// secure, skipverify, accesskey, secretkey, sessiontoken, encrypt
// (SSE "AES256", or "aws:kms" with keyid; keyid without encrypt is
// refused, where distribution ignores it), storageclass ("NONE" is no
// class), objectacl, chunksize (PartSize), multipartcopythresholdsize,
// multipartcopychunksize and multipartcopymaxconcurrency (the Copy*
// fields; 0 selects the default). v4auth is accepted and ignored:
// requests are always signed with SigV4. useragent and loglevel are
// ignored. usedualstack, accelerate and usefipsendpoint may only be false
// (ErrUnsupported otherwise; name such an endpoint in regionendpoint).
// Berth's own keys fill what distribution has no name for: concurrency,
// cacertfile, checksummode, commitmode, redirectexpiry, disableredirect.
//
// # Errors
//
// The error code of an answer decides its kind first, then the HTTP status
// alone, since S3-compatible servers send odd codes and a HEAD answer has
// none: NoSuchKey, NotFound, NoSuchUpload and 404 are ErrNotFound;
// AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, expired tokens
// and 403 are ErrPermission; PreconditionFailed, ConditionalRequestConflict
// and 412 are ErrConflict; InvalidRange and 416 are ErrInvalidOffset;
// EntityTooLarge and 413 are ErrTooLarge; KeyTooLongError is
// ErrInvalidPath; NotImplemented and 501 are ErrUnsupported. NoSuchBucket
// is ErrInvalidConfig, not ErrNotFound: the bucket existed when New
// checked it, and a registry told "not found" would answer 404 for every
// blob instead of failing loudly. Anything else (5xx, throttling,
// connection errors) has no kind. The SDK's own error stays reachable
// with errors.As (*smithy.OperationError, *types.NoSuchKey, ...).
//
// At New, an endpoint that refuses the connection, fails TLS verification
// or does not answer within 15 s is ErrInvalidConfig ("cannot reach"), as
// is a missing bucket; refused credentials are ErrPermission. A context
// the caller cancelled is reported as such, with no kind.
//
// The SDK's standard retryer retries throttling, 5xx and connection
// errors with jittered backoff; it never retries a 4xx.
//
// # Consistency
//
// Upload state lives in the bucket, never in a process, under
// .berth/uploads/<path>~u/ below the root directory: a chain of immutable
// JSON records v.<n>, each created with PUT If-None-Match: * (the one
// conditional write that MinIO and RGW both honour with exactly one
// winner), so publishing the next record is a compare-and-swap on the
// head. A retried PUT whose first attempt had succeeded is recognised by
// reading the record back (F5).
//
//   - One multipart upload per upload, its id pinned in the records; it is
//     never found again with ListMultipartUploads (F9, F10).
//   - Close uploads full parts, puts the rest in a tail object of its own
//     session and publishes a record naming both: any instance's
//     Writer(append) continues from there, reading back at most one part.
//     Non-final parts are all exactly PartSize (F14).
//   - Part numbers are reserved in the records, in windows that double as a
//     session streams; a new session starts above every earlier
//     reservation, and extending a reservation is a publish, so a fenced
//     session can neither overwrite another's part nor go on for more than
//     its current window.
//   - Commit and Cancel first seal the head (sealed.<n>, If-None-Match): of
//     two sessions completing one upload (RGW accepts a second Complete),
//     only the owner gets through. The object appears whole, by one PUT,
//     one CompleteMultipartUpload or one complete server-side copy.
//   - A session killed or fenced with parts in flight leaves "stray" parts
//     in the pinned multipart upload that no record names. MinIO (and AWS)
//     complete an upload with the recorded parts and drop the others. Ceph
//     RGW 16.2 refuses any completion that leaves an uploaded part out (400
//     InvalidPart, measured with parts 1, 2 and 3 of 5 MiB completed as
//     [1,2], [1,3] or [2,3]), and S3 cannot delete one part: completing
//     directly would lose the upload. CommitMode "auto" therefore probes
//     the server once per instance, at its first multipart upload (parts 1
//     and 2 of a probe upload under .berth/probe/, completed with part 2
//     alone): MinIO answers "direct", RGW "staged". A staged upload's
//     multipart upload lives at stage.<upload> in the slot (named in the
//     records, so every instance commits it the same way), and Commit
//     completes it there with every part the server lists (a short stray
//     that is not last is first overwritten with MinPartSize bytes), then
//     makes the path by server-side copy of exactly the recorded parts'
//     bytes: one CopyObject when there are no strays (RGW shares the data
//     of a same-bucket copy) or the multipart copy above CopyThreshold,
//     else one UploadPartCopy per recorded part, by byte range. Then the
//     staging object is deleted. A Commit killed between completion and
//     copy leaves it in the sealed slot, for Delete and Sweep.
//   - Move claims the source (.berth/moves/<src>~m, If-None-Match) before
//     copying, so of two replicas moving one source exactly one does it and
//     the other gets ErrNotFound (F2); above CopyThreshold it copies with
//     UploadPartCopy, aborting what it started on failure (F13, F16).
//   - Delete lists keys below path/ (never a sibling sharing the prefix),
//     seals every upload at or below the path so its writer gets
//     ErrConflict instead of bringing the data back, and aborts its
//     multipart upload.
//
// With no size hint an upload holds at most MaxParts parts of PartSize (32
// MiB: 312 GiB); driver.WithSizeHint on the Writer's context raises the
// part size to fit (1 TiB: 117 MiB parts) or refuses more than 5 TiB with
// ErrTooLarge before anything is sent (F12). A writer holds at most
// Concurrency buffers of PartSize.
//
// MinIO and RGW list a mutation as soon as it returns (Listing: Strong).
//
// # Escape hatches
//
// Store.As reaches the SDK clients: a **s3.Client (aws-sdk-go-v2's
// service/s3) or a **s3.PresignClient.
//
//	var c *s3.Client
//	if store.As(&c) { ... }
package s3
