package store

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// Store is where a lake's files live. Keys are slash-separated and
// relative to the store's root ("orders/_delta_log/00000000000000000003.json").
//
// A missing key is reported as an error that matches fs.ErrNotExist.
// Every method may be called from several goroutines at once.
type Store interface {
	// Location is where key lives, for messages and for readers that open
	// the files themselves: a local path, or s3://bucket/prefix/key.
	Location(key string) string
	// Open opens key for random reads (Parquet footers, column chunks).
	Open(ctx context.Context, key string) (File, error)
	// ReadAll returns key's contents.
	ReadAll(ctx context.Context, key string) ([]byte, error)
	// Stat returns key's size and modification time.
	Stat(ctx context.Context, key string) (Entry, error)
	// List returns every key under prefix (a directory: "orders/" or
	// "orders/_delta_log/"), at any depth, in no set order. A prefix that
	// holds nothing is an empty list, not an error.
	List(ctx context.Context, prefix string) ([]Entry, error)
	// PutIfAbsent creates key with data, atomically, unless key exists:
	// then it returns an error matching ErrExist and key is unchanged. Of
	// two writers racing for one key, exactly one succeeds.
	PutIfAbsent(ctx context.Context, key string, data []byte) error
	// Create streams a new version of key. With atomic, readers see the
	// old version or the whole new one, never a part; without, a crash
	// may leave a partial file under key (data files, which nothing reads
	// before a commit lists them, are written so). Memory is bounded
	// whatever the size.
	Create(ctx context.Context, key string, atomic bool) (Writer, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// File is an opened key: random reads of a known size.
type File interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Writer is a file being written. Commit makes it durable and visible
// and returns its size; Abort gives it up (a multipart upload is
// aborted). After either, the Writer is done.
type Writer interface {
	io.Writer
	Commit() (int64, error)
	Abort()
}

// Entry describes one key.
type Entry struct {
	Key     string // relative to the store's root
	Size    int64
	ModTime time.Time
}

// ErrExist means PutIfAbsent found the key taken.
var ErrExist = fs.ErrExist

// Toucher is a store whose modification times can be set (tests with an
// injected clock date files as maintenance will see them).
type Toucher interface {
	Touch(key string, t time.Time) error
}

// DirMaker is a store with directories that must exist before a key is
// created in them with PutIfAbsent (the local one). The lake makes a
// table's log directory when it creates the table, never later: a log
// directory that vanished must fail commits, not start a second history.
type DirMaker interface {
	MkdirAll(key string) error
}

// DirSyncer is a store whose deletions become durable only once their
// directory is synced (the local one).
type DirSyncer interface {
	SyncDir(key string) error
}

// IsNotExist reports whether err means a missing key.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

var (
	_ Store     = (*Local)(nil)
	_ Toucher   = (*Local)(nil)
	_ DirMaker  = (*Local)(nil)
	_ DirSyncer = (*Local)(nil)
	_ Store     = (*S3)(nil)
)
