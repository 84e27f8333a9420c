// Package store is where a lake's files live: a local directory (Local)
// or an S3 bucket (S3). The lake reads and writes every data file, Delta
// commit, checkpoint and _last_checkpoint through the Store interface, so
// the Delta logic above it is the same on both.
//
// A file passes through these steps:
//
//	written    Create streams it (a multipart upload on S3, one part in
//	           memory at a time) and Commit makes it durable: fsynced
//	           locally, a completed upload on S3. An atomic Create is
//	           seen whole or not at all (locally a temp file renamed;
//	           every S3 PUT is atomic).
//	committed  a Delta commit is PutIfAbsent: locally a hard link of a
//	           fsynced temp file, on S3 a PUT with If-None-Match: *. Of
//	           two writers racing for one version exactly one wins; the
//	           other gets ErrExist (HTTP 412). HTTP 409 (a concurrent
//	           conditional write still in progress) is retried.
//	listed     List returns keys with sizes and modification times, which
//	           vacuum and log cleanup compare with their retentions.
//	deleted    Delete removes a key; a missing one is not an error.
//
// NewS3 probes the bucket at open: it PUTs one probe object twice with
// If-None-Match: *, and refuses a store that accepts the second PUT,
// since commits there could overwrite each other.
package store
