package lake

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/internal/testenv"
	"github.com/inlet-dev/inlet/lake/store"
)

// TestWritersRace: writers in separate Lakes (as separate engine
// processes are) race for the same versions of one table, on a local
// directory and on S3 whatever INLET_LAKE_STORE says. Of the commits of
// one version exactly one wins; the losers catch up and commit next, or
// skip a batch the winner already committed (txn); every offset is in
// the table once.
func TestWritersRace(t *testing.T) {
	s := testenv.StartS3(t)
	for _, name := range []string{"file", "s3"} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			open := func() *Lake {
				if name == "s3" {
					return OpenStore(s.Store(t, s.Bucket, "race"), "p", Options{CheckpointInterval: 7})
				}
				st, err := store.NewLocal(root)
				if err != nil {
					t.Fatal(err)
				}
				return OpenStore(st, "p", Options{CheckpointInterval: 7})
			}
			// Two writers commit the very same version of a table at once.
			a, b := open(), open()
			writeCommits(t, a, 0, 1, 2, func(int) time.Time { return day0 })
			ta, _ := a.Table("public.s")
			tb, _ := b.Table("public.s")
			if ta.version != 0 || tb.version != 0 {
				t.Fatalf("versions %d %d, want 0", ta.version, tb.version)
			}
			for round := 0; round < 10; round++ {
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i, tbl := range []*Table{ta, tb} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						errs[i] = tbl.commit([]logEntry{{CommitInfo: map[string]any{"operation": "WRITE", "writer": i}}})
					}()
				}
				wg.Wait()
				won := 0
				for _, err := range errs {
					if err == nil {
						won++
					} else if !errors.Is(err, ErrConflict) {
						t.Fatal(err)
					}
				}
				if won != 1 {
					t.Fatalf("round %d: %d writers committed one version (errors %v)", round, won, errs)
				}
				// The loser catches up.
				for _, tbl := range []*Table{ta, tb} {
					if err := tbl.Follow(); err != nil {
						t.Fatal(err)
					}
				}
				if ta.version != tb.version {
					t.Fatalf("round %d: versions %d and %d after catching up", round, ta.version, tb.version)
				}
			}

			// Four writers through Write, two per Kafka partition: each
			// batch is written twice (as by an engine that lost the
			// partition mid-batch and the one that took it over).
			var wg sync.WaitGroup
			ctx := context.Background()
			for w := 0; w < 4; w++ {
				l := open()
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 15; i++ {
						p := int32(w / 2)
						off := int64(1000 + i*10 + int(p)*5000)
						rows := []change.Row{{Schema: simpleSchema, Op: 'c', Values: []any{off, fmt.Sprintf("n%d", off), 1.0},
							Version: uint64(off), TsMs: day0.UnixMilli(), Partition: p, Offset: off}}
						_, _, err := l.Write(ctx, Batch{Table: "public.s", Topic: "p.public.s", Rows: rows, Ranges: map[int32]Range{p: {From: off, To: off}}})
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			c := open()
			tbl, err := c.Table("public.s")
			if err != nil {
				t.Fatal(err)
			}
			seen := map[int64]int{}
			for _, r := range readAll(t, tbl) {
				var p, off int64
				fmtSscan(r, &p, &off)
				seen[off]++
			}
			for off, n := range seen {
				if n != 1 {
					t.Errorf("offset %d read %d times", off, n)
				}
			}
			if len(seen) != 2+30 {
				t.Errorf("%d offsets in the table, want 32", len(seen))
			}
			if c.opts.CheckpointInterval > 0 {
				// Open from the newest checkpoint: the same table as the JSON commits say.
				sameState(t, "after the race", tbl, openJSONOnlyIn(t, c.st, "public.s"))
			}
		})
	}
}

// openJSONOnlyIn is openJSONOnly on a store.
func openJSONOnlyIn(t testing.TB, st store.Store, name string) *Table {
	t.Helper()
	tb := newTable(st, name)
	ls, err := listLog(st, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range ls.commits {
		if err := tb.replay(v); err != nil {
			t.Fatal(err)
		}
	}
	return tb
}
