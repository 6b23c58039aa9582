// Package swift is the driver for OpenStack Swift and Swift-compatible
// servers (Ceph RGW's Swift API), shared by several registry replicas. It
// uses ncw/swift/v2 and is tested against a one-node OpenStack Swift and
// Ceph RGW (scripts/backends).
//
// # Configuration
//
// Config is the typed form; New validates it without a network call, then
// authenticates and checks the containers once (no retries, at most 15 s),
// so that a wrong configuration fails at start. New never creates a
// container. Fields, with their defaults:
//
//   - AuthURL: required (or OS_AUTH_URL). AuthVersion: 0 guesses from the
//     URL (.../v3: 3, .../v2.0: 2, else 1: tempauth or Swift's v1).
//   - Username (or UserID, v3) and Key: required. Key is a driver.Secret:
//     a Config prints it as REDACTED, and no error ever holds it.
//   - Domain/DomainID (v3), Tenant/TenantID (v2 tenant, v3 project),
//     TenantDomain/TenantDomainID, TrustID (v3); Region and EndpointType
//     ("public", "internal", "admin") pick the catalogue's endpoint.
//   - Container: required, must exist. RootDirectory: name prefix, ""
//     for the container root; a path /a/b is stored at <root>/a/b.
//     SegmentContainer: Container (must exist if different).
//   - ChunkSize: 32 MiB, 1 MiB to 5 GiB: the size of every segment but
//     the last; grown for an upload whose driver.WithSizeHint needs more
//     than MaxSegments (1,000, the manifest limit of Swift and RGW). An
//     upload holds at most 1,000 segments: 31 GiB at 32 MiB without a
//     hint, MaxObjectSize (5,000 GiB) with one; more is ErrTooLarge, before
//     anything is sent when the hint says so. Concurrency: 4 segments in
//     flight per writer, 1 to 64: a writer buffers at most ChunkSize x
//     Concurrency.
//   - TempURLKey: "" (RedirectURL returns ""); the account's
//     X-Account-Meta-Temp-URL-Key, or the container's with
//     TempURLContainerKey. TempURLMethods: GET, HEAD. RedirectExpiry: 20m.
//   - CACertFile, InsecureSkipVerify (tests only). ConnectTimeout 10s,
//     Timeout 60s (a stalled transfer).
//
// With AuthURL empty, New and the URL form fill the authentication fields
// from the OpenStack clients' variables (Config.ApplyEnv): OS_AUTH_URL,
// OS_USERNAME, OS_PASSWORD, OS_USER_DOMAIN_NAME, OS_PROJECT_NAME,
// OS_PROJECT_DOMAIN_NAME, OS_REGION_NAME, OS_INTERFACE,
// OS_IDENTITY_API_VERSION and their _ID and v1 (ST_AUTH, ST_USER, ST_KEY)
// variants.
//
// The URL form, for Registry.Open:
//
//	swift://container/root/dir?auth_url=http://127.0.0.1:8080/auth/v1.0&user=acct:user&password=...
//
// takes auth_url, auth_version, user, user_id, password, domain,
// domain_id, tenant, tenant_id, tenant_domain, tenant_domain_id,
// trust_id, region, endpoint_type, segment_container, chunk_size,
// concurrency, tempurl_key, tempurl_container_key, tempurl_methods (GET,HEAD),
// redirect_expiry, ca_cert_file, insecure_skip_verify, connect_timeout
// and timeout; an unknown key is an error, user:password@ is refused.
//
// Distribution's parameter map (storage.swift) is decoded strictly:
// authurl, authversion, username, userid, password, domain, domainid,
// tenant, tenantid, tenantdomain, tenantdomainid, trustid, region,
// endpointtype, container, prefix (RootDirectory), chunksize,
// insecureskipverify, secretkey (TempURLKey), tempurlcontainerkey,
// tempurlmethods; accesskey (HP Cloud's) is accepted and ignored. Berth's
// own keys: segmentcontainer, concurrency, cacertfile, redirectexpiry,
// connecttimeout, timeout.
//
// # Errors
//
// The HTTP status decides the kind: 404 is ErrNotFound, 401 and 403
// ErrPermission, 409 and 412 ErrConflict, 416 ErrInvalidOffset, 413
// ErrTooLarge, 501 ErrUnsupported. A missing container is
// ErrInvalidConfig, not ErrNotFound (a registry told "not found" would
// answer 404 for every blob instead of failing loudly). At New, an auth
// URL that does not answer is ErrInvalidConfig ("cannot reach"), refused
// credentials ErrPermission, a missing container or one whose name the
// server refuses (RGW: fewer than 3 bytes, more than 63) ErrInvalidConfig.
// ncw/swift's *swift.Error stays reachable with errors.As.
//
// ncw/swift re-authenticates on 401. The driver retries its idempotent
// calls (a whole-object PUT of the same bytes, GET, HEAD, DELETE, a COPY)
// on 5xx, 429/498 and connection errors, up to four times with a short
// backoff: RGW answers 500 to a GET or DELETE racing a replacement of the
// same object. A 4xx is never retried. A retried PUT whose first answer
// was lost rewrites the same bytes under the same name (segments and
// tails are named per session), so nothing is duplicated (F5).
//
// # Consistency
//
// Object names (under RootDirectory):
//
//	<path>                                     the object; a large one is a Static Large Object manifest
//	.berth/uploads/<path>~u/state              an upload in progress (JSON)
//	.berth/segments/<upload>/<session>/<n>     segments (SegmentContainer)
//	.berth/segments/<upload>/<session>/tail    the short tail of a Close
//	.berth/segments/<upload>/index             the segment names of a committed upload
//
// Upload state. An upload's state is one object, written whole and read
// back: its identity, chunk size, the segments written so far and the
// tail of the last Close. Writer(append) on any instance reads it by name
// (never by listing), reads the tail back into its buffer (at most one
// chunk) and continues (CONTRACT 3, 4; F7, F9, F10). Only Dynamic Large
// Objects depend on listings; this driver makes Static Large Objects only,
// whose manifest names each segment with its size and ETag.
//
// Segments and ownership (F8). Every writer session writes its segments
// under a name of its own (upload/session/n) and never overwrites a name,
// so the bytes of two sessions cannot interleave; a state, and the manifest
// a Commit writes from it, names the segments of one chain of sessions,
// each resumed from the previous one's Close. The manifest carries
// X-Object-Meta-Berth-Upload: <upload>, and the segment index lists its
// segments. Ownership is simple and single: the segments under
// .berth/segments/<upload>/ belong to the upload's state while it is in
// progress, and to the one manifest naming <upload> once committed.
// Move copies the manifest (COPY ?multipart-manifest=get: the manifest, not
// the data, with its metadata) and deletes the source's manifest alone, so
// ownership passes to the destination and nothing of the segments remains
// under the source: a Delete of the source's directory cannot reach them.
// Delete, PutContent, Commit and Move over an object remove the segments
// of the manifest they delete or replace (by its index and a listing of
// its prefix), never others. A Delete racing a Move of the same object
// deletes the manifest first and then leaves the segments if the Move's
// claim (below) exists: the mover either copied the manifest before, and
// owns them, or finds the source gone and removes them itself. RGW does not
// serve multipart-manifest=get on GET (it answers an empty body), which is
// why the index exists.
//
// Fencing is best-effort (Capabilities). No Swift server offers a
// conditional write that a racing second writer cannot also win: Swift's
// If-None-Match: * lets two racing writers win, RGW ignores it
// (BACKENDS.md). A session publishes its state and reads it back; Close,
// Commit and Cancel first check that the state is still the one it
// published. A second writer is detected whenever its publication and the
// first writer's check are ordered; two publications within one read-back
// can both succeed, and then the later state wins whole: bytes never
// interleave, the committed content is one chain's. The conformance suite
// counts the undetected cases per server. A session that lost removes the
// segments it never published; those it did publish stay until the
// upload's Commit, Cancel or Delete removes everything under the upload's
// prefix that the manifest does not name, or Sweep.
//
// Move has exactly one winner (F2). Creating a container is the one
// operation both Swift and RGW serialise (an account-server lock, an
// exclusive RADOS create): of racing PUTs exactly one is answered 201
// Created, the others 202 Accepted (measured: 20 rounds of 3 racers on
// each server). A Move creates the claim container
// ClaimPrefix(container) + a hash of the source; the instance that created
// it moves, the others get ErrNotFound, and the claim is deleted when the
// Move ends (one taken over after 15 minutes). The credentials therefore
// need the right to create and delete containers. When the answer to the
// claim's PUT is lost, a claim created no earlier than a second before it
// was sent is taken as the mover's own (F5). Commit, Move and
// PutContent each make the destination appear whole with one PUT or COPY.
//
// Listings (List, Walk, and Stat of a directory) are eventually consistent
// in Swift (container updates can be deferred); Capabilities declare
// Listing: Eventual, and the driver uses listings only to find things to
// clean up, never to find an upload or decide a race.
//
// Sweep (driver.Sweeper) removes what killed processes and undetected
// races left, older than its argument: segment prefixes whose upload no
// state and no manifest names, and stale claim containers. It lists the
// container and HEADs every object: run it rarely, like garbage collection.
//
// # Escape hatches
//
// Store.As reaches the ncw/swift connection:
//
//	var c *swift.Connection
//	if store.As(&c) { ... }
package swift
