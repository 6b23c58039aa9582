// Package nasfs is the driver for a POSIX directory shared by several
// registry replicas: processes on one host, or hosts sharing an NFS export.
//
// # Configuration
//
// Config.Root is the shared directory; it must exist and be writable (New
// checks both and writes nothing into a directory it rejects). The URL form
// is nasfs:///var/lib/registry; distribution's filesystem parameters
// (rootdirectory, maxthreads) are accepted as they are. User paths map to
// the same relative paths under Root, as distribution's filesystem driver
// lays them out; nasfs keeps its own state under Root/.berth.
//
// # Errors
//
// ENOENT, ENOTDIR and EISDIR are ErrNotFound; EACCES, EPERM and EROFS are
// ErrPermission; a symlink leading out of Root is ErrPermission too (every
// access goes through an os.Root). A writer that was fenced, or whose upload
// was committed, cancelled or deleted by someone else, gets ErrConflict.
//
// # Consistency
//
// PutContent, Commit and Move write to a staging file, fsync it, rename(2)
// it over the path and fsync the directory: a reader on any process sees
// the old content or the new, never a prefix, and a crash leaves the old
// content or the new. Readers read from an open descriptor, so a concurrent
// replace does not change the bytes under them.
//
// Upload state lives on disk, in a slot per upload path
// (.berth/uploads/<path>~u), never in a process. A slot holds a chain of
// immutable records published by link(2), which fails with EEXIST when the
// name exists, on local filesystems and NFS alike: publishing is a
// compare-and-swap, with no lock and no reliance on flock. A writer session
// writes a segment file of its own or, resuming an upload whose last
// record its owner published at Close (no one writes now), extends the
// last segment in place; a session that fences a live writer marks the
// segment that writer may extend as shared and writes its own, so bytes of
// two writers cannot interleave. Close publishes a record naming the
// segments and their sizes, after which any process's Writer(append)
// continues from exactly there.
// Opening a writer publishes a record naming the new session as owner,
// which fences every earlier session: its next Close, Commit or Cancel
// fails with ErrConflict. Commit and Cancel seal the chain by linking a
// file to sealed.<head>, the same compare-and-swap, so a stale session can
// neither extend a finished upload nor end a live one. Commit seals with
// the first segment, which no one writes any more, appends the later ones
// to it (copy_file_range where the kernel can: only they are copied) and
// renames it into place; a Commit that fails before its rename acted
// withdraws the seal, so the upload stays resumable. The slot then goes
// to the trash in one rename.
//
// Delete renames the subtree, and the upload slots under it, into
// .berth/trash in one step each before removing them; a writer whose slot
// was moved fails with ErrConflict instead of resurrecting the data. Two
// processes moving one source: rename(2) lets exactly one find it.
//
// Empty directories are pruned after Delete and Move; a process creating a
// file in a directory being pruned retries its mkdir. A process killed
// mid-call can leave a staging file under .berth/tmp or a sealed slot,
// invisible to List and Walk; Store.Sweep reclaims them.
//
// Cost: every upload pays a slot directory, and every Commit, PutContent
// and Move a rename and an fsync of the target directory. On a disk where
// creating an inode costs 0.3 ms, that is about 1 ms per upload over a bare
// write+fsync; from 16 MiB up the stream runs at the speed of the disk (see
// BenchmarkStream).
//
// # Escape hatches
//
// Store.As with a **os.Root gives the root directory handle.
package nasfs
