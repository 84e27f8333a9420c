package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inlet-dev/inlet/internal/testenv"
)

func TestMerge(t *testing.T) {
	latest := Batch{ID: 7, Sink: "lake", Offsets: []Offset{{"a", 0, 10, ""}, {"a", 1, 50, ""}, {"b", 0, 3, ""}},
		LakeVersions: map[string]int64{"x": 4, "y": 9}}
	mine := Batch{Sink: "lake", Offsets: []Offset{{"a", 1, 40, ""}, {"b", 0, 8, ""}, {"b", 1, 1, ""}},
		Rows: map[string]int64{"x": 5}, LakeVersions: map[string]int64{"x": 6, "y": 2}}
	got := Merge(latest, mine)
	want := Batch{Sink: "lake", Offsets: []Offset{{"a", 0, 10, ""}, {"a", 1, 50, ""}, {"b", 0, 8, ""}, {"b", 1, 1, ""}},
		Rows: map[string]int64{"x": 5}, LakeVersions: map[string]int64{"x": 6, "y": 9}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("merge (-want +got):\n%s", d)
	}
}

// TestCommitMergedRace: engines owning different partitions commit one
// sink's checkpoints at once; every commit lands as its own id and the
// latest batch holds every engine's last offsets.
func TestCommitMergedRace(t *testing.T) {
	pg := testenv.StartPostgres(t)
	ctx := context.Background()
	stores := map[string]Store{}
	for i := range 4 {
		s, err := OpenPostgres(ctx, pg.DSN("postgres"), "inlet_checkpoints", "shop")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[fmt.Sprint("pg", i)] = s
	}
	file, err := OpenFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, group := range map[string][]Store{"postgres": {stores["pg0"], stores["pg1"], stores["pg2"], stores["pg3"]},
		"file": {file, file, file, file}} {
		t.Run(name, func(t *testing.T) {
			const commits = 50
			var wg sync.WaitGroup
			errs := make(chan error, len(group))
			for eng, s := range group {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 1; i <= commits; i++ {
						b := Batch{Sink: "lake", Offsets: []Offset{{"t", int32(eng), int64(i), ""}}}
						if _, err := CommitMerged(ctx, s, b); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			latest, _, err := group[0].Latest(ctx, "lake")
			if err != nil {
				t.Fatal(err)
			}
			if latest.ID != uint64(commits*len(group)) {
				t.Errorf("latest id %d, want %d (one per commit)", latest.ID, commits*len(group))
			}
			want := []Offset{{"t", 0, commits, ""}, {"t", 1, commits, ""}, {"t", 2, commits, ""}, {"t", 3, commits, ""}}
			if d := cmp.Diff(want, latest.Offsets); d != "" {
				t.Errorf("latest offsets (-want +got):\n%s", d)
			}
			// A zombie's stale offset never moves a partition back.
			if _, err := CommitMerged(ctx, group[1], Batch{Sink: "lake", Offsets: []Offset{{"t", 2, 3, ""}}}); err != nil {
				t.Fatal(err)
			}
			latest, _, _ = group[0].Latest(ctx, "lake")
			if d := cmp.Diff(want, latest.Offsets); d != "" {
				t.Errorf("after a stale commit (-want +got):\n%s", d)
			}
		})
	}
	// A stale id is ErrConflict.
	err = stores["pg0"].Commit(ctx, Batch{ID: 1, Sink: "lake"})
	if !errors.Is(err, ErrConflict) {
		t.Errorf("stale id: %v, want ErrConflict", err)
	}
}

// TestPostgresLock: two holders of one key never overlap; a holder that
// dies (its connection closes) releases it.
func TestPostgresLock(t *testing.T) {
	pg := testenv.StartPostgres(t)
	ctx := context.Background()
	var stores []*PostgresStore
	for range 2 {
		s, err := OpenPostgres(ctx, pg.DSN("postgres"), "inlet_checkpoints", "shop")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	var inside, overlaps atomic.Int32
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				unlock, err := s.Lock(ctx, "clickhouse/shop/summaries/b", "clickhouse/shop/summaries/a")
				if err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) > 1 {
					overlaps.Add(1)
				}
				time.Sleep(2 * time.Millisecond)
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	if n := overlaps.Load(); n > 0 {
		t.Errorf("%d times two holders held one lock", n)
	}
	// Held by a store that then closes (a process that died): released.
	unlock0, err := stores[0].Lock(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock0() // returns the dead connection to its pool
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	if _, err := stores[1].Lock(wctx, "k"); err == nil {
		t.Error("a held lock was taken again")
	}
	cancel()
	// Its session ends (what a killed process's does).
	if _, err := stores[1].pool.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	unlock, err := stores[1].Lock(wctx, "k")
	if err != nil {
		t.Fatalf("the lock of a closed holder was not released: %v", err)
	}
	unlock()
}
