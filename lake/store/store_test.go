package store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/internal/testenv"
	"github.com/inlet-dev/inlet/lake/store"
)

// stores returns a local store and an S3 store (versitygw), each with
// the local directory its keys live in.
func stores(t *testing.T) map[string]struct {
	st  store.Store
	dir string
} {
	dir := t.TempDir()
	l, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	s3 := testenv.StartS3(t)
	return map[string]struct {
		st  store.Store
		dir string
	}{
		"file": {l, dir},
		"s3":   {s3.Store(t, s3.Bucket, "lake"), filepath.Join(s3.BucketDir(s3.Bucket), "lake")},
	}
}

func TestStores(t *testing.T) {
	ctx := context.Background()
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := s.st
			if err := st.PutIfAbsent(ctx, "t/_delta_log/0.json", []byte("a")); err != nil {
				if dm, ok := st.(store.DirMaker); ok {
					dm.MkdirAll("t/_delta_log")
					err = st.PutIfAbsent(ctx, "t/_delta_log/0.json", []byte("a"))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := st.PutIfAbsent(ctx, "t/_delta_log/0.json", []byte("b")); !errors.Is(err, store.ErrExist) {
				t.Fatalf("second put-if-absent: %v, want ErrExist", err)
			}
			if b, err := st.ReadAll(ctx, "t/_delta_log/0.json"); err != nil || string(b) != "a" {
				t.Fatalf("read %q %v", b, err)
			}
			// The objects are plain files (versitygw's posix backend).
			if b, err := os.ReadFile(filepath.Join(s.dir, "t/_delta_log/0.json")); err != nil || string(b) != "a" {
				t.Fatalf("on disk %q %v", b, err)
			}
			if _, err := st.ReadAll(ctx, "t/none"); !store.IsNotExist(err) {
				t.Fatalf("missing key: %v", err)
			}
			if _, err := st.Stat(ctx, "t/none"); !store.IsNotExist(err) {
				t.Fatalf("stat missing key: %v", err)
			}
			// A large file goes up in parts, with bounded memory.
			big := bytes.Repeat([]byte("0123456789abcdef"), (20<<20)/16+7)
			w, err := st.Create(ctx, "t/dt=2026-01-01/big.parquet", false)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(big); i += 100_000 {
				w.Write(big[i:min(i+100_000, len(big))])
			}
			if n, err := w.Commit(); err != nil || n != int64(len(big)) {
				t.Fatalf("commit %d %v", n, err)
			}
			f, err := st.Open(ctx, "t/dt=2026-01-01/big.parquet")
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
			f.Close()
			if !bytes.Equal(got, big) {
				t.Fatalf("read back %d bytes, want %d", len(got), len(big))
			}
			// An aborted write leaves nothing visible (atomic).
			w, _ = st.Create(ctx, "t/_delta_log/_last_checkpoint", true)
			w.Write([]byte("x"))
			w.Abort()
			if _, err := st.Stat(ctx, "t/_delta_log/_last_checkpoint"); !store.IsNotExist(err) {
				t.Fatalf("aborted write visible: %v", err)
			}
			es, err := st.List(ctx, "t/")
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, e := range es {
				keys = append(keys, e.Key)
				if time.Since(e.ModTime) > time.Minute || e.ModTime.After(time.Now().Add(time.Minute)) {
					t.Errorf("%s: mtime %v", e.Key, e.ModTime)
				}
			}
			sort.Strings(keys)
			if len(keys) != 2 || keys[0] != "t/_delta_log/0.json" || keys[1] != "t/dt=2026-01-01/big.parquet" {
				t.Fatalf("list %v", keys)
			}
			if es, _ := st.List(ctx, "nothing/"); len(es) != 0 {
				t.Fatalf("empty prefix lists %v", es)
			}
			if err := st.Delete(ctx, "t/dt=2026-01-01/big.parquet"); err != nil {
				t.Fatal(err)
			}
			if err := st.Delete(ctx, "t/dt=2026-01-01/big.parquet"); err != nil {
				t.Fatalf("delete missing: %v", err)
			}
		})
	}
}

// TestPutIfAbsentRace: writers racing for one key never both win.
func TestPutIfAbsentRace(t *testing.T) {
	ctx := context.Background()
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if dm, ok := s.st.(store.DirMaker); ok {
				dm.MkdirAll("r")
			}
			for round := 0; round < 20; round++ {
				key := "r/" + string(rune('a'+round))
				var wg sync.WaitGroup
				var mu sync.Mutex
				won := 0
				for w := 0; w < 4; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						err := s.st.PutIfAbsent(ctx, key, []byte{byte(w)})
						if err == nil {
							mu.Lock()
							won++
							mu.Unlock()
						} else if !errors.Is(err, store.ErrExist) {
							t.Error(err)
						}
					}()
				}
				wg.Wait()
				if won != 1 {
					t.Fatalf("round %d: %d writers won", round, won)
				}
			}
		})
	}
}
