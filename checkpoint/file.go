package checkpoint

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/inlet-dev/inlet/internal/fsutil"
)

// FileStore keeps checkpoints under a directory:
//
//	<dir>/<sink>/current.json   the latest batch (the commit point)
//	<dir>/<sink>/history.jsonl  every batch, one JSON object per line
type FileStore struct {
	dir string
	mu  sync.Mutex
}

var _ Store = (*FileStore)(nil)

// OpenFile opens (creating) a file store rooted at dir.
func OpenFile(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open checkpoint store: %w", err)
	}
	return &FileStore{dir: dir}, nil
}

func (s *FileStore) sinkDir(sink string) string { return filepath.Join(s.dir, sink) }

// Commit implements Store.
func (s *FileStore) Commit(ctx context.Context, b Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok, err := s.latest(b.Sink)
	if err != nil {
		return err
	}
	want := uint64(1)
	if ok {
		want = cur.ID + 1
	}
	if b.ID != want {
		return fmt.Errorf("commit checkpoint %s/%d: expected id %d: %w", b.Sink, b.ID, want, ErrConflict)
	}
	if b.Time.IsZero() {
		b.Time = time.Now().UTC()
	}
	return s.write(b)
}

func (s *FileStore) write(b Batch) error {
	data, err := Encode(b)
	if err != nil {
		return err
	}
	dir := s.sinkDir(b.Sink)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("commit checkpoint: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "current.json"), data); err != nil {
		return fmt.Errorf("commit checkpoint: %w", err)
	}
	return appendLine(filepath.Join(dir, "history.jsonl"), data)
}

// Latest implements Store.
func (s *FileStore) Latest(ctx context.Context, sink string) (Batch, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest(sink)
}

func (s *FileStore) latest(sink string) (Batch, bool, error) {
	data, err := os.ReadFile(filepath.Join(s.sinkDir(sink), "current.json"))
	if os.IsNotExist(err) {
		return Batch{}, false, nil
	}
	if err != nil {
		return Batch{}, false, fmt.Errorf("read checkpoint: %w", err)
	}
	b, err := Decode(data)
	if err != nil {
		return Batch{}, false, fmt.Errorf("%s: %w", filepath.Join(s.sinkDir(sink), "current.json"), err)
	}
	return b, true, nil
}

// History implements Store. Lines are de-duplicated by ID, the last one
// winning, so a history line written twice around a crash reads once.
func (s *FileStore) History(ctx context.Context, sink string) ([]Batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.Open(filepath.Join(s.sinkDir(sink), "history.jsonl"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint history: %w", err)
	}
	defer f.Close()
	var out []Batch
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		b, err := Decode(line)
		if err != nil {
			// A torn last line after a crash: the current file is the truth.
			continue
		}
		for len(out) > 0 && out[len(out)-1].ID >= b.ID {
			out = out[:len(out)-1]
		}
		out = append(out, b)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read checkpoint history: %w", err)
	}
	return out, nil
}

// Rewind implements Store: it commits a new batch (next ID) whose offsets are
// those of batch id, so the history keeps every step.
func (s *FileStore) Rewind(ctx context.Context, sink string, id uint64) (Batch, error) {
	hist, err := s.History(ctx, sink)
	if err != nil {
		return Batch{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok, err := s.latest(sink)
	if err != nil || !ok {
		return Batch{}, fmt.Errorf("rewind %s: no checkpoints yet", sink)
	}
	for _, b := range hist {
		if b.ID == id {
			nb := b
			nb.ID = cur.ID + 1
			nb.Time = time.Now().UTC()
			nb.Rows = nil
			return nb, s.write(nb)
		}
	}
	return Batch{}, fmt.Errorf("rewind %s: no checkpoint %d (see inlet checkpoints)", sink, id)
}

// Prune implements Store: history.jsonl is rewritten (atomically) with the
// batches kept.
func (s *FileStore) Prune(ctx context.Context, sink string, before time.Time) (int, error) {
	hist, err := s.History(ctx, sink)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept, removed := Fold(hist, before)
	if removed == 0 {
		return 0, nil
	}
	var buf bytes.Buffer
	for _, b := range kept {
		data, err := Encode(b)
		if err != nil {
			return 0, err
		}
		buf.Write(data)
		buf.WriteByte('\n')
	}
	if err := WriteFileAtomic(filepath.Join(s.sinkDir(sink), "history.jsonl"), buf.Bytes()); err != nil {
		return 0, fmt.Errorf("prune checkpoint history: %w", err)
	}
	return removed, nil
}

// Close implements Store.
func (s *FileStore) Close() error { return nil }

// WriteFileAtomic writes data to path so that a crash leaves either the old
// or the new content: temp file, fsync, rename, fsync of the directory.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return fsutil.SyncDir(dir)
}

func appendLine(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("append checkpoint history: %w", err)
	}
	if _, err := f.Write(append(append([]byte{}, data...), '\n')); err != nil {
		f.Close()
		return fmt.Errorf("append checkpoint history: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("append checkpoint history: %w", err)
	}
	return f.Close()
}
