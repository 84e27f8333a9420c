package lake

import (
	"context"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors"
)

// TestSinkMaintainsInBackground: the lake sink applies batches while its
// background maintenance checkpoints and compacts the same table; after
// Close every change is there once and the table opens from a checkpoint.
func TestSinkMaintainsInBackground(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	l := testOpenWith(t, root, "p", Options{CheckpointInterval: 10, CompactMinFiles: 4})
	s := l.Sink(nil)
	s.every = 5 * time.Millisecond
	tbl := change.Table{Topic: "p.public.s", Name: "public.s"}
	if _, err := s.Progress(ctx, []connectors.Table{tbl}); err != nil {
		t.Fatal(err)
	}
	var off int64
	for b := 1; b <= 150; b++ {
		rows := []change.Row{{Schema: simpleSchema, Op: 'c', Values: []any{off, "x", 1.0}, Version: uint64(off + 1), TsMs: time.Now().UnixMilli(), Offset: off}}
		if _, err := s.Apply(ctx, connectors.SinkBatch{ID: uint64(b), Tables: []connectors.TableBatch{{Table: tbl, Rows: rows,
			Ranges: map[int32]change.Range{0: {From: off, To: off}}}}}); err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		off++
	}
	s.Close()
	tb, err := openTable(storeAt(root), "public.s")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	tb.ReadRows(func(rs []change.Row) error {
		for _, r := range rs {
			seen[r.Offset]++
		}
		return nil
	})
	for o := int64(0); o < off; o++ {
		if seen[o] != 1 {
			t.Fatalf("offset %d read %d times", o, seen[o])
		}
	}
	if tb.checkpoint < 0 || tb.replayed > 11 || len(tb.Files()) >= 150 {
		t.Fatalf("checkpoint %d, %d log files read, %d live files; want a checkpoint, ≤ 11 files, compaction", tb.checkpoint, tb.replayed, len(tb.Files()))
	}
	t.Logf("version %d, %d live files, checkpoint %d", tb.version, len(tb.Files()), tb.checkpoint)
}

// TestMaintenanceWaitsForBulkLoads: a table taking rows in bulk has its
// maintenance put off, at most maxDeferred passes in a row; a slow stream
// is maintained every pass.
func TestMaintenanceWaitsForBulkLoads(t *testing.T) {
	l, err := Open(t.TempDir(), "p")
	if err != nil {
		t.Fatal(err)
	}
	s := l.Sink(nil)
	pass := 30 * time.Second
	s.recent["bulk"], s.recent["slow"] = 2_000_000, 20_000
	if !s.bulkLoading("bulk", pass) || s.bulkLoading("slow", pass) {
		t.Fatal("a bulk load was maintained, or a slow stream was not")
	}
	for i := 1; i < maxDeferred; i++ {
		s.recent["bulk"] = 2_000_000
		if !s.bulkLoading("bulk", pass) {
			t.Fatalf("pass %d of a bulk load was not put off", i+1)
		}
	}
	s.recent["bulk"] = 2_000_000
	if s.bulkLoading("bulk", pass) {
		t.Fatalf("maintenance put off more than %d passes in a row", maxDeferred)
	}
	if !func() bool { s.recent["bulk"] = 2_000_000; return s.bulkLoading("bulk", pass) }() {
		t.Fatal("after a pass, a bulk load is put off again")
	}
}
