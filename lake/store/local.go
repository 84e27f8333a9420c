package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/inlet-dev/inlet/internal/fsutil"
)

// Local is a store in a local directory. Writes are fsynced; PutIfAbsent
// is a hard link of a fsynced temp file (link fails if the name exists),
// atomic Create a rename of one. Temp files are named
// .<name>.tmp-<random> beside their target.
type Local struct {
	root string
}

// NewLocal returns the store rooted at dir, creating it.
func NewLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lake %s: %w", dir, err)
	}
	return &Local{root: dir}, nil
}

func (s *Local) path(key string) string { return filepath.Join(s.root, filepath.FromSlash(key)) }

// Location is the key's path.
func (s *Local) Location(key string) string { return s.path(key) }

type localFile struct {
	*os.File
	size int64
}

func (f localFile) Size() int64 { return f.size }

// Open opens key.
func (s *Local) Open(_ context.Context, key string) (File, error) {
	f, err := os.Open(s.path(key))
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return localFile{f, st.Size()}, nil
}

// ReadAll reads key.
func (s *Local) ReadAll(_ context.Context, key string) ([]byte, error) {
	return os.ReadFile(s.path(key))
}

// Stat stats key.
func (s *Local) Stat(_ context.Context, key string) (Entry, error) {
	fi, err := os.Stat(s.path(key))
	if err != nil {
		return Entry{}, err
	}
	return Entry{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List walks the directory prefix.
func (s *Local) List(_ context.Context, prefix string) ([]Entry, error) {
	var out []Entry
	base := s.path(prefix)
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone meanwhile, or no such prefix
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		out = append(out, Entry{Key: filepath.ToSlash(rel), Size: info.Size(), ModTime: info.ModTime()})
		return nil
	})
	return out, err
}

// PutIfAbsent writes a fsynced temp file and links it to key: link fails
// if key exists, so two writers can never both create it.
func (s *Local) PutIfAbsent(_ context.Context, key string, data []byte) error {
	final := s.path(key)
	dir := filepath.Dir(final)
	tmp := filepath.Join(dir, "."+filepath.Base(final)+".tmp-"+randHex())
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := fsyncFile(tmp); err != nil {
		return err
	}
	if err := os.Link(tmp, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", final, ErrExist)
		}
		return err
	}
	return fsutil.SyncDir(dir)
}

// Create creates key's parent directories and the file (atomic: a temp
// file renamed over key at Commit).
func (s *Local) Create(_ context.Context, key string, atomic bool) (Writer, error) {
	final := s.path(key)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, err
	}
	name := final
	if atomic {
		name = filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".tmp-"+randHex())
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	return &localWriter{f: f, final: final, atomic: atomic}, nil
}

type localWriter struct {
	f      *os.File
	final  string
	atomic bool
	n      int64
	done   bool
}

func (w *localWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *localWriter) Commit() (int64, error) {
	w.done = true
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		w.cleanup()
		return 0, err
	}
	if err := w.f.Close(); err != nil {
		w.cleanup()
		return 0, err
	}
	if w.atomic {
		if err := os.Rename(w.f.Name(), w.final); err != nil {
			w.cleanup()
			return 0, err
		}
		if err := fsutil.SyncDir(filepath.Dir(w.final)); err != nil {
			return 0, err
		}
	}
	return w.n, nil
}

// cleanup removes an atomic writer's temp file; a plain one's partial
// file stays (as an orphan, which the next attempt overwrites).
func (w *localWriter) cleanup() {
	if w.atomic {
		os.Remove(w.f.Name())
	}
}

func (w *localWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	w.cleanup()
}

// Delete removes key.
func (s *Local) Delete(_ context.Context, key string) error {
	err := os.Remove(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// RemoveEmptyDirs removes the empty directories under prefix (vacuum
// leaves none behind). Stores without directories have nothing to do.
func (s *Local) RemoveEmptyDirs(prefix string) {
	base := s.path(prefix)
	var dirs []string
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && p != base {
			if d.Name() == "_delta_log" {
				return filepath.SkipDir
			}
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i]) // only if empty
	}
}

// Touch sets key's modification time.
func (s *Local) Touch(key string, t time.Time) error { return os.Chtimes(s.path(key), t, t) }

// MkdirAll makes the directory key.
func (s *Local) MkdirAll(key string) error { return os.MkdirAll(s.path(key), 0o755) }

// SyncDir fsyncs the directory key.
func (s *Local) SyncDir(key string) error { return fsutil.SyncDir(s.path(key)) }

func fsyncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func randHex() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
