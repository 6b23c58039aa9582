// Package multipart is the upload protocol of the drivers on object
// stores with multipart uploads and a conditional create (s3 on
// aws-sdk-go-v2, oss on aliyun-oss-go-sdk), written once against Store, a
// small interface that each driver implements with its SDK's calls. The
// drivers keep their SDK translation and what really differs: the
// conditional write and how its failures read, error codes, part-size
// limits, the completion's lost-answer check, and (s3 only) staged
// commits, through Stager.
//
// # Consistency
//
// An upload's state lives in the bucket, never in a process, under the
// slot prefix .berth/uploads/<path>~u/ (under the root directory):
//
//   - v.<n> (16 hex digits): a chain of immutable JSON records (Record).
//     Each is written with Store.Create, a create-if-absent that lets
//     exactly one of several racing writers win: publishing record n+1 is
//     a compare-and-swap on the head. The newest record is the state. A
//     create whose answer was lost, or that was refused, is read back and
//     compared (every record carries a nonce), so that our own write is
//     not taken for another's (F5).
//   - tail.<session>: the bytes a session closed that did not fill a part.
//   - sealed.<n>: Commit, Cancel and Delete end the chain on head n, again
//     with a create; a publisher on head n checks for it afterwards.
//   - stage.<upload>: a staged multipart upload (Stager).
//
// The data is one multipart upload per upload, its id pinned in the
// records (never found again by listing multipart uploads: F9, F10). Part
// numbers are reserved in the records: a session uploads only numbers
// below the Reserved of a record it published itself, and a new session
// starts above every earlier reservation, so a fenced session still
// uploading can never overwrite a part of the session that took over.
// Extending a reservation is a publish, so a fenced session learns it is
// fenced at its next part. Close uploads full parts, puts the rest in a
// tail object and publishes a record naming both: any instance's
// Writer(append) continues from there, reading back at most one part, and
// every non-final part is exactly the part size (F14).
//
// Delete seals every upload at or below the path before it removes it, so
// that a writer still holding one gets ErrConflict instead of bringing the
// data back. Move claims the source (.berth/moves/<src>~m, a create)
// before copying, so of two instances moving one source exactly one does
// it and the other gets ErrNotFound (F2); a failed multipart copy aborts
// its upload (F16).
package multipart
