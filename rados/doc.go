// Package rados is the driver for Ceph RADOS, spoken natively through
// librados (go-ceph, cgo), shared by several registry replicas. It is
// tested against a real one-node Ceph cluster. This package is the only
// one in the module that uses cgo: built without cgo it still compiles,
// and New and Factory return driver.ErrUnsupported ("built without cgo").
//
// # Configuration
//
// Config is the typed form; New validates it without touching the
// cluster, connects (one librados connection per distinct connection
// setting per process, shared by every instance), opens the pool and
// reads from it once, so that a wrong configuration fails at start.
// Fields, with their defaults:
//
//   - ConfigFile: the ceph.conf; empty takes $CEPH_CONF, then librados'
//     own search. MonHost overrides its mon_host; with MonHost set no
//     file is needed. Cluster: "ceph".
//   - User: the cephx id without "client." ("admin"). Keyring: a keyring
//     file; or Key, the base64 secret itself (a driver.Secret: printed as
//     REDACTED, never in an error).
//   - Pool: required; it must exist unless CreatePool, which creates it
//     with the cluster's defaults. Namespace: "", the RADOS namespace
//     inside the pool; each namespace is a separate store.
//   - ChunkSize: 4 MiB, 64 KiB to 64 MiB, a multiple of 4 KiB: the size
//     of the chunk objects files are striped into (RADOS refuses objects
//     over 128 MiB and single ops over 90 MB). Concurrency: 4, 1 to 64,
//     chunks moved at once by one writer or reader; a writer holds at most
//     Concurrency x ChunkSize of buffers, a reader one chunk more (the
//     one it delivers).
//   - ConnectTimeout: 10s, 1s to 5m; set as client_mount_timeout and
//     rados_mon_op_timeout, and enforced again around the connect call:
//     an unreachable monitor fails New after it, never hangs.
//     OpTimeout: 2m (rados_osd_op_timeout): an OSD call that gets no
//     answer fails with ETIMEDOUT.
//   - Options: extra Ceph options for this client, as in ceph.conf
//     (admin_socket, log_file, debug_ms, ms_max_backoff, or the
//     messenger's fault injection, ms_inject_socket_failures and
//     ms_inject_delay_*, which the conformance suite's chaos test uses);
//     set after ConfigFile is read. Those a field sets are refused; an
//     unknown name fails New; values never appear in errors.
//
// The URL form, for Registry.Open:
//
//	rados://pool[/namespace]?conf=/etc/ceph/ceph.conf&user=registry&keyring=/etc/ceph/ceph.client.registry.keyring
//
// takes the query keys conf, cluster, user, keyring, key, mon_host,
// create_pool, chunk_size, concurrency, connect_timeout and op_timeout
// (Go durations such as 10s). A key in a URL ends up in shell histories:
// a keyring file is the better place. user:password@ is refused, and no
// error echoes the URL.
//
// The parameter map (Factory.FromParameters) is decoded strictly, an
// unknown key being an error: poolname, username ("client." is dropped)
// and chunksize are the keys of distribution's former rados driver;
// conffile, cluster, keyring, key, monhost, namespace, createpool,
// concurrency, connecttimeout and optimeout are Berth's.
//
// Package drivers links this driver only when built with the tags cgo and
// rados (go build -tags rados); its registry is otherwise cgo-free.
//
// # Errors
//
// librados errors are classified by errno: ENOENT is ErrNotFound; EPERM
// and EACCES are ErrPermission; EFBIG and EMSGSIZE are ErrTooLarge;
// ENAMETOOLONG is ErrInvalidPath; EOPNOTSUPP is ErrUnsupported; ECANCELED,
// ERANGE and EEXIST (lost compare-and-swaps and version assertions, which
// the driver retries or turns into ErrConflict itself) are ErrConflict.
// Anything else (ETIMEDOUT, ENOSPC, EIO ...) has no kind. The error of
// go-ceph (or of this package's own librados calls) stays reachable with
// errors.As, and both satisfy interface{ ErrorCode() int }.
//
// At New: a missing pool (without CreatePool), a missing ConfigFile or
// Keyring, no ceph.conf and no MonHost, and an unreachable monitor (after
// ConnectTimeout) are ErrInvalidConfig; a key the monitors refuse, a user
// the keyring holds no key for or the cluster does not know, and OSD caps
// that forbid reading the pool are ErrPermission. Messages name the
// setting, the user and the pool, never the key.
//
// # Consistency
//
// RADOS has no rename, no directories, no multi-object transaction and
// objects of at most 128 MiB. Everything of one store lives in one
// namespace of one pool, in three kinds of objects:
//
//	D<dir>            a directory of the visible tree ("D/", "D/a/b"); its
//	                  omap holds "f:<name>" -> the file's record and
//	                  "d:<name>" -> a link to a subdirectory
//	U<dir>            a directory of the upload tree: "u:<name>" -> the
//	                  upload's record, "d:<name>" -> subdirectory link
//	C.<gen>.<index>   a chunk object: ChunkSize bytes of a file (the last
//	                  may be shorter), immutable once its record names it
//
// A file's head is its record, an entry in its directory's omap: size,
// chunk size and the runs of chunk objects that hold the bytes (chunks of
// one write generation are C.<gen>.0, .1, ...; a resumed upload's file
// names several generations), or, up to 16 KiB, the bytes themselves.
// Every change of an entry is one compare-and-swap: a single write op on
// the directory object holding omap_cmp (the value read, or absent) and
// omap_set or omap_rm_keys, which librados applies whole or not at all
// (ECANCELED). go-ceph wraps no omap_cmp; cops.go calls librados for it.
// Hence:
//
//   - Content becomes visible only by that op: PutContent and Commit write
//     chunks under a new generation first, then swap the record. A reader
//     reads a record once and then the chunks it names, so it sees the old
//     content or the new, whole; a chunk found gone (the file was replaced
//     and its old chunks deleted) before any byte was delivered makes it
//     start over on the new record; after, the read fails rather than mix.
//   - Since heads are the index entries, List never shows a file without
//     a head, and Stat, List and Walk agree once a call returns (Listing:
//     Strong). Walk reads each directory object once, sizes included.
//   - Directories exist while their object holds an entry. Adding an entry
//     then links its directories bottom-up; removing one prunes them
//     top-down: unlink from the parent, read again, remove the empty
//     object with a version assertion, or put the link back when an entry
//     arrived (tree.go gives the interleavings).
//   - Move swaps records, never copies data: it claims the source with a
//     compare-and-swap that marks the record moving to its destination
//     (of concurrent Moves of one source exactly one claims it, the others
//     get ErrNotFound), swaps the record into the destination's entry,
//     then removes the claimed source entry and deletes the chunks the
//     destination held before.
//   - An upload is an entry of the upload tree whose record holds the
//     durable size, the runs and the owning session. Writer publishes a
//     new owner by compare-and-swap (a new upload replaces and discards an
//     old one; append continues it); a session writes only chunks named
//     after itself, Concurrency at a time; Close writes the partial last
//     chunk too and publishes size and runs, comparing against the value
//     it last wrote: a session fenced by a newer Writer, or whose upload
//     was cancelled or deleted, fails with ErrConflict and deletes the
//     chunks it wrote. Any instance resumes from the record, reading back
//     at most the one partial chunk. Commit seals the upload (one more
//     compare-and-swap: now nobody can take it over), swaps the file
//     record in, removes the sealed entry and deletes the chunks the
//     upload no longer names. Cancel removes the entry by compare-and-swap
//     and then every chunk it names.
//   - Delete removes, at and below the path, each file entry and each
//     upload entry by compare-and-swap, then their chunks, then prunes the
//     emptied directories; /a and /ab are different directory objects and
//     entries, so a sibling sharing a prefix is never touched.
//
// Network faults. librados reconnects and resends on a torn connection,
// and the OSD answers a resent op it already applied from its log, so
// such faults reach the driver only as errors after OpTimeout, which
// leave open whether the op applied (a reply lost after the OSD acted,
// FAILURE-MODES F5). A compare-and-swap that fails so reads its entry back:
// its new value there (every value carries a fresh nonce) means it
// applied; the old one means it did not, and it is tried again, at most
// three times and none after OpTimeout. If the outcome stays unknown, the
// call returns the error and undoes nothing that the new value may name.
// Idempotent writes (chunks, directory links) are tried again the same
// way. Deleting chunks that no record names any more, once a call has
// taken effect, never fails the call: what a failure there leaves is
// Sweep's. A Commit that fails before its file record could be published
// puts the upload back as the last Close left it.
//
// Crashes. A process killed between the steps above leaves, at worst:
// chunk objects that no record names (a PutContent or session that died
// before publishing, replaced chunks whose deletion did not run); a file
// whose directories are not linked yet; an emptied directory still
// linked, or an unlinked empty directory object; a claimed source (reads
// see it; another Move of it gets ErrNotFound until the claim is settled,
// by Sweep or, once the claim is 10 minutes old, by that Move itself); a
// sealed upload whose Commit died. Nothing visible is ever torn. Sweep
// (driver.Sweeper, Store.Sweep) reclaims all of it, touching nothing
// younger than its grace period: it lists the namespace once, settles old
// claims (the destination already holds the chunks: the source goes;
// otherwise the claim is cleared), removes old sealed uploads, links and
// prunes directories, and deletes the chunk objects that no file record,
// no upload record and no owning session names, if they are older than
// the grace period. Uploads in progress are left alone: purging abandoned
// uploads is the registry's decision (a Delete of their directory).
//
// Limits: a file may be as large as MaxObjectSize (16 TiB, declared in
// Capabilities; larger size hints are ErrTooLarge). A directory's entries
// live in one object, which RADOS handles well to hundreds of thousands
// of keys. RedirectURL returns "" (no HTTP endpoint to sign; Redirect:
// false in Capabilities). Fencing is strict and SharedAcrossProcesses true.
//
// # Escape hatches
//
// Store.As reaches go-ceph's handles: a **rados.Conn (the shared
// connection: do not shut it down) or a **rados.IOContext (set to the
// instance's namespace; shared: do not change its namespace).
package rados
