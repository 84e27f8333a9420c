package incident

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/inlet-dev/inlet/internal/fsutil"
)

// pathLocks serialise, per journal file, this process's appends and a
// prune's rewrite, so no line appended meanwhile is lost.
var pathLocks sync.Map // path → *sync.Mutex

func lockFor(path string) *sync.Mutex {
	m, _ := pathLocks.LoadOrStore(filepath.Clean(path), &sync.Mutex{})
	return m.(*sync.Mutex)
}

// Prune rewrites the journal without the incidents closed before before:
// every line of an incident still open, or closed at or after before, is
// kept (so reports of what is kept stay whole). It returns the lines
// dropped. The rewrite is atomic (temp file, fsync, rename).
func Prune(path string, before time.Time) (int, error) {
	mu := lockFor(path)
	mu.Lock()
	defer mu.Unlock()
	entries, err := Read(path, time.Time{})
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	drop := map[string]bool{}
	for _, in := range Group(entries) {
		if !in.Open() && in.Closed.Before(before) {
			drop[in.ID] = true
		}
	}
	if len(drop) == 0 {
		return 0, nil
	}
	g := newGrouper()
	var buf bytes.Buffer
	dropped := 0
	for _, e := range entries {
		id := e.ID
		if id == "" {
			id = g.add(e) // a format 1 line: its derived id
		} else {
			g.add(e)
		}
		if drop[id] {
			dropped++
			continue
		}
		e.ID = id
		line, err := json.Marshal(e)
		if err != nil {
			return 0, err
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	tmp := path + ".prune"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return 0, fmt.Errorf("prune incident record: %w", err)
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = fsutil.SyncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("prune incident record: %w", err)
	}
	return dropped, nil
}
