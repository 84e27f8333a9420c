package lake

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inlet-dev/inlet/change"
)

var day0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func hourly(i int) time.Time { return day0.Add(time.Duration(i) * time.Hour) }

// sameState fails unless a and b hold the same table state.
func sameState(t *testing.T, what string, a, b *Table) {
	t.Helper()
	if a.version != b.version || a.rows != b.rows {
		t.Errorf("%s: version %d rows %d, want version %d rows %d", what, a.version, a.rows, b.version, b.rows)
	}
	if d := cmp.Diff(b.Files(), a.Files()); d != "" {
		t.Errorf("%s: files (-want +got):\n%s", what, d)
	}
	if d := cmp.Diff(b.txns, a.txns); d != "" {
		t.Errorf("%s: txns (-want +got):\n%s", what, d)
	}
	if d := cmp.Diff(b.columns, a.columns); d != "" {
		t.Errorf("%s: columns (-want +got):\n%s", what, d)
	}
	if a.part != b.part || a.id != b.id || a.ntz != b.ntz {
		t.Errorf("%s: part %q id %q ntz %v, want %q %q %v", what, a.part, a.id, a.ntz, b.part, b.id, b.ntz)
	}
	if d := cmp.Diff(readAll(t, b), readAll(t, a)); d != "" {
		t.Errorf("%s: rows in read order (-want +got):\n%s", what, d)
	}
}

// TestCheckpointMatchesLog: a table opened from its checkpoint plus the
// later commits is the table the JSON commits alone describe, read from at
// most checkpoint_interval+1 log files; Delta readers see the same rows.
func TestCheckpointMatchesLog(t *testing.T) {
	root := lakeRoot(t)
	l := testOpen(t, root, "p")
	writeCommits(t, l, 0, 250, 3, hourly)
	dir := filepath.Join(root, "public.s")
	for _, v := range []int64{100, 200} {
		if _, err := os.Stat(filepath.Join(dir, "_delta_log", checkpointName(v))); err != nil {
			t.Fatalf("checkpoint %d: %v", v, err)
		}
	}
	if v := lastCheckpointIn(filepath.Join(dir, "_delta_log")); v != 200 {
		t.Fatalf("_last_checkpoint names %d, want 200", v)
	}
	got, err := openTable(storeAt(root), "public.s")
	if err != nil {
		t.Fatal(err)
	}
	if got.replayed != 50 {
		t.Errorf("open read %d log files, want 50 (checkpoint 200 + versions 201..249)", got.replayed)
	}
	sameState(t, "from checkpoint", got, openJSONOnly(t, root, "public.s"))

	var want []string
	for off := int64(0); off < 750; off++ {
		want = append(want, expectedRow(off, hourly(int(off/3)).Format("2006-01-02")))
	}
	want = sortedByOffset(want)
	if d := cmp.Diff(want, duckRows(t, dir)); d != "" {
		t.Errorf("DuckDB (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want, chdbRows(t, dir)); d != "" {
		t.Errorf("chDB deltaLakeLocal (-want +got):\n%s", d)
	}
}

// TestCheckpointFallback: a corrupt newest checkpoint, a stale temp file
// of an interrupted one and a _last_checkpoint naming a missing one all
// leave the table readable, from the previous checkpoint or from JSON.
func TestCheckpointFallback(t *testing.T) {
	root := lakeRoot(t)
	l := testOpen(t, root, "p")
	writeCommits(t, l, 0, 230, 2, hourly)
	log := filepath.Join(root, "public.s", "_delta_log")
	want := openJSONOnly(t, root, "public.s")

	// A crash while writing checkpoint 200 leaves its temp file, never a
	// partial checkpoint under the final name...
	os.WriteFile(filepath.Join(log, "."+checkpointName(300)+".tmp-abc"), []byte("PAR1 partial"), 0o644)
	// ...but a disk can still corrupt one.
	ck := filepath.Join(log, checkpointName(200))
	b, _ := os.ReadFile(ck)
	os.WriteFile(ck, b[:len(b)/2], 0o644)
	got, err := openTable(storeAt(root), "public.s")
	if err != nil {
		t.Fatal(err)
	}
	if got.replayed != 130 {
		t.Errorf("read %d log files, want 130 (checkpoint 100 + 129 commits)", got.replayed)
	}
	sameState(t, "corrupt newest checkpoint", got, want)

	os.Remove(filepath.Join(log, checkpointName(100)))
	os.WriteFile(ck, []byte("not parquet"), 0o644)
	got, err = openTable(storeAt(root), "public.s")
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, "no readable checkpoint", got, want)

	// The next checkpoint is written whole again.
	os.Remove(ck)
	l2 := testOpen(t, root, "p")
	writeCommits(t, l2, 460, 71, 2, hourly)
	if v := lastCheckpointIn(log); v != 300 {
		t.Fatalf("_last_checkpoint %d, want 300", v)
	}
	got, _ = openTable(storeAt(root), "public.s")
	if got.replayed != 1 || got.version != 300 {
		t.Errorf("version %d from %d files, want 300 from its checkpoint alone", got.version, got.replayed)
	}
	sameState(t, "new checkpoint", got, openJSONOnly(t, root, "public.s"))
}

// TestTimeTravelAcrossCheckpoint: Rewind to a version after a checkpoint
// and to one before it both read as the log says.
func TestTimeTravelAcrossCheckpoint(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	l := testOpen(t, root, "p")
	writeCommits(t, l, 0, 130, 1, hourly)
	for _, v := range []int64{120, 50} {
		if err := l.Rewind(ctx, "public.s", v); err != nil {
			t.Fatal(err)
		}
		tb, _ := l.Table("public.s")
		if tb.Rows() != v+1 {
			t.Errorf("rewound to %d: %d rows, want %d", v, tb.Rows(), v+1)
		}
		at, err := openTableUpTo(storeAt(root), "public.s", v)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(readAll(t, at), readAll(t, tb)); d != "" {
			t.Errorf("rewind to %d (-version +rewound):\n%s", v, d)
		}
	}
	// A checkpoint holding the rewinds' tombstones reads in chDB.
	tb, _ := l.Table("public.s")
	if err := tb.writeCheckpoint(time.Now(), &l.opts); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "public.s")
	if out := chdbQuery(t, root, "SELECT count(), max(_kafka_offset) FROM deltaLakeLocal('"+dir+"')"); out != "51\t50\n" {
		t.Fatalf("chDB after rewinds: %q, want 51 rows up to offset 50", out)
	}
}

// TestCheckpointKeepsStagedRefresh: the files of an unfinished full
// refresh, which JSON commits keep in commitInfo, survive a checkpoint.
func TestCheckpointKeepsStagedRefresh(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	l := testOpenWith(t, root, "p", Options{CheckpointInterval: 2})
	row := func(off int64, gen uint64) change.Row {
		return change.Row{Schema: simpleSchema, Op: 'r', Values: []any{off, "x", 1.0}, Version: gen, TsMs: day0.UnixMilli(), Offset: off}
	}
	b := func(off int64, gen uint64, m []Marker) Batch {
		return Batch{Table: "public.s", Topic: "p.public.s", FullRefresh: true, Rows: []change.Row{row(off, gen)},
			Ranges: map[int32]Range{0: {From: off, To: off}}, Markers: m}
	}
	for i, bt := range []Batch{b(0, 1, nil), b(1, 1, []Marker{{Gen: 1, Rows: 2, Offset: 1}}), b(2, 2, nil)} {
		if _, _, err := l.Write(ctx, bt); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	got, err := openTable(storeAt(root), "public.s")
	if err != nil {
		t.Fatal(err)
	}
	if got.checkpoint != 2 || got.replayed != 1 {
		t.Fatalf("opened from checkpoint %d reading %d files, want checkpoint 2 alone", got.checkpoint, got.replayed)
	}
	want := openJSONOnly(t, root, "public.s")
	if d := cmp.Diff(want.staged, got.staged, cmp.AllowUnexported()); d != "" || len(got.staged[2]) != 1 {
		t.Errorf("staged generations (-json +checkpoint):\n%s", d)
	}
}

// TestRewindBeforeOldestRefused: after log cleanup, a version before the
// oldest kept checkpoint is refused with a message naming that version.
func TestRewindBeforeOldestRefused(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	clk := &clock{t: day0}
	l := testOpenWith(t, root, "p", Options{CheckpointInterval: 50, LogRetention: 24 * time.Hour, Now: clk.now})
	writeCommits(t, l, 0, 120, 1, func(int) time.Time { clk.advance(time.Hour); return clk.t })
	clk.advance(24 * time.Hour)
	deleted, oldest, err := l.CleanupLog("public.s", clk.now())
	if err != nil {
		t.Fatal(err)
	}
	if oldest != 100 || len(deleted) != 100+1 { // json 0..99 and checkpoint 50
		t.Fatalf("oldest %d, deleted %d files; want 100 and 101", oldest, len(deleted))
	}
	err = l.Rewind(ctx, "public.s", 99)
	if !errors.Is(err, ErrTooOld) || !strings.Contains(err.Error(), "oldest version it can read is 100") {
		t.Fatalf("rewind to 99: %v; want a refusal naming version 100", err)
	}
	if err := l.Rewind(ctx, "public.s", 100); err != nil {
		t.Fatal(err)
	}
	tb, _ := l.Table("public.s")
	if tb.Rows() != 101 {
		t.Fatalf("after rewind to 100: %d rows, want 101", tb.Rows())
	}
	sameState(t, "after cleanup", tb, func() *Table { x, _ := openTable(storeAt(root), "public.s"); return x }())
}

// TestCheckpointAllKindsReadByChDB: a checkpoint of a table with every
// column type (timestamp_ntz needs reader features in the protocol row)
// is what delta-kernel reads when the commits before it are gone.
func TestCheckpointAllKindsReadByChDB(t *testing.T) {
	root := lakeRoot(t)
	l := testOpenWith(t, root, "p", Options{CheckpointInterval: 4})
	writeKinds(t, l, 0, 6)
	dir := filepath.Join(root, "public.t")
	for v := int64(0); v < 4; v++ {
		os.Remove(filepath.Join(dir, "_delta_log", logName(v)))
	}
	out := chdbQuery(t, root, "SELECT count(), countIf(s IS NULL), sum(length(ai)), toString(min(ts)), countDistinct(_kafka_offset) FROM deltaLakeLocal('"+dir+"')")
	if want := "18\t12\t36\t2026-03-04 05:06:07.123456\t18\n"; out != want {
		t.Fatalf("chDB: %q, want %q", out, want)
	}
	got, err := openTable(storeAt(root), "public.t")
	if err != nil || got.replayed != 2 || got.Rows() != 18 {
		t.Fatalf("open: %v, %d files read, %d rows", err, got.replayed, got.Rows())
	}
	// Compacted, and checkpointed with the tombstones (version 6).
	l2 := testOpenWith(t, root, "p", Options{CheckpointInterval: 3, CompactMinFiles: 3})
	cs, err := l2.Compact(context.Background(), "public.t")
	if err != nil || len(cs) != 2 {
		t.Fatalf("compact: %v %v", cs, err)
	}
	if v := lastCheckpointIn(filepath.Join(dir, "_delta_log")); v != 6 {
		t.Fatalf("_last_checkpoint %d, want 6", v)
	}
	for v := int64(4); v < 6; v++ {
		os.Remove(filepath.Join(dir, "_delta_log", logName(v)))
	}
	out = chdbQuery(t, root, "SELECT count(), countIf(s IS NULL), sum(length(ai)), toString(min(ts)), countDistinct(_kafka_offset) FROM deltaLakeLocal('"+dir+"')")
	if want := "18\t12\t36\t2026-03-04 05:06:07.123456\t18\n"; out != want {
		t.Fatalf("chDB after compaction: %q, want %q", out, want)
	}
}

// TestFollowAcrossCleanup: a follower whose next commit log cleanup
// removed catches up from the checkpoint.
func TestFollowAcrossCleanup(t *testing.T) {
	root := lakeRoot(t)
	l := testOpenWith(t, root, "p", Options{CheckpointInterval: 10})
	writeCommits(t, l, 0, 3, 1, hourly)
	r := testOpen(t, root, "p")
	tb, _ := r.Table("public.s")
	writeCommits(t, l, 3, 20, 1, hourly)
	for v := int64(0); v < 20; v++ {
		os.Remove(filepath.Join(root, "public.s", "_delta_log", logName(v)))
	}
	if err := tb.Follow(); err != nil {
		t.Fatal(err)
	}
	if tb.Rows() != 23 || tb.Version() != 22 {
		t.Fatalf("after Follow: rows %d version %d, want 23 and 22", tb.Rows(), tb.Version())
	}
}
