package lake

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inlet-dev/inlet/change"
)

// writeKinds makes n commits of the all-kinds sample rows (every column
// type, NULLs, unchanged TOAST values, two days).
func writeKinds(t *testing.T, l *Lake, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		rows := sampleRows()
		for j := range rows {
			rows[j].Values = append([]any(nil), rows[j].Values...)
			rows[j].Values[0] = int64(i*10 + j)
			rows[j].Offset = int64(i*3 + j)
			rows[j].Version = uint64(1000 + i*3 + j)
		}
		if _, _, err := l.Write(context.Background(), Batch{Table: "public.t", Topic: "p.public.t", Rows: rows,
			Ranges: map[int32]Range{0: {From: int64(i * 3), To: int64(i*3 + 2)}}}); err != nil {
			t.Fatal(err)
		}
	}
}

func allRows(t *testing.T, l *Lake) []change.Row {
	t.Helper()
	tb, err := l.snapshot("public.t")
	if err != nil {
		t.Fatal(err)
	}
	var out []change.Row
	if err := tb.ReadRows(func(rs []change.Row) error { out = append(out, rs...); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// rowsByDay orders rows by day then offset: compaction keeps the log
// order within a day partition.
func rowsByDay(rows []change.Row) map[string][]change.Row {
	out := map[string][]change.Row{}
	for _, r := range rows {
		d := time.UnixMilli(r.TsMs).UTC().Format("2006-01-02")
		out[d] = append(out[d], r)
	}
	return out
}

var cmpRows = cmp.Options{cmp.Comparer(func(a, b *change.Schema) bool { return a.Fingerprint == b.Fingerprint })}

// TestCompactKeepsEveryRow: compaction rewrites the small files of each
// day into one, with every row, column (incl. _kafka_offset, NULLs,
// unchanged values) and the log order of each day kept, in a commit of
// remove + add with dataChange false.
func TestCompactKeepsEveryRow(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	l := testOpenWith(t, root, "p", Options{CompactMinFiles: 5})
	writeKinds(t, l, 0, 12)
	before := allRows(t, l)
	cs, err := l.Compact(ctx, "public.t")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || len(cs[0].Removed) != 12 || len(cs[0].Added) != 1 || cs[0].Rows+cs[1].Rows != 36 {
		t.Fatalf("compactions %+v; want two days of 12 files each into one", cs)
	}
	tb, _ := l.snapshot("public.t")
	if len(tb.Files()) != 2 || tb.Rows() != 36 {
		t.Fatalf("after compaction: files %v, rows %d", tb.Files(), tb.Rows())
	}
	after := allRows(t, l)
	if d := cmp.Diff(rowsByDay(before), rowsByDay(after), cmpRows); d != "" {
		t.Fatalf("rows per day (-before +after):\n%s", d)
	}
	data, _ := tb.st.ReadAll(context.Background(), tb.logKey(logName(tb.version)))
	for _, want := range []string{`"dataChange":false`, `"operation":"OPTIMIZE"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("compaction commit lacks %s:\n%s", want, data)
		}
	}
	// Writes continue after it, and a retried batch is still skipped.
	writeKinds(t, l, 11, 2)
	if n := len(allRows(t, l)); n != 39 {
		t.Fatalf("%d rows after more writes, want 39 (commit 11 again is skipped)", n)
	}
}

// TestCompactConcurrentCommit: a streaming commit that lands between the
// compacted files and their commit makes compaction re-read the log and
// retry; a commit that removed an input makes it give up the partition,
// deleting what it wrote.
func TestCompactConcurrentCommit(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	l := testOpenWith(t, root, "p", Options{CompactMinFiles: 5})
	writeKinds(t, l, 0, 8)
	other := testOpen(t, root, "p") // another engine process
	compactHook = func() {
		compactHook = nil
		writeKinds(t, other, 8, 1)
	}
	defer func() { compactHook = nil }()
	before := allRows(t, l)
	cs, err := l.Compact(ctx, "public.t")
	if err != nil || len(cs) != 2 {
		t.Fatalf("compactions %+v, err %v", cs, err)
	}
	after := allRows(t, l)
	if len(after) != 27 {
		t.Fatalf("%d rows, want 27 (24 compacted + 3 streamed concurrently)", len(after))
	}
	seen := map[int64]int{}
	for _, r := range after {
		seen[r.Offset]++
	}
	for off := int64(0); off < 27; off++ {
		if seen[off] != 1 {
			t.Errorf("offset %d read %d times, want once", off, seen[off])
		}
	}
	if len(before) != 24 {
		t.Fatalf("%d rows before", len(before))
	}

	// An input removed concurrently: the partition is left alone.
	root2 := lakeRoot(t)
	l = testOpenWith(t, root2, "p", Options{CompactMinFiles: 5})
	writeKinds(t, l, 0, 8)
	other = testOpen(t, root2, "p")
	compactHook = func() {
		compactHook = nil
		if err := other.Rewind(ctx, "public.t", 3); err != nil {
			t.Fatal(err)
		}
	}
	cs, err = l.Compact(ctx, "public.t")
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := l.snapshot("public.t")
	if tb.Rows() != 12 {
		t.Fatalf("rows %d after a rewind to version 3, want 12", tb.Rows())
	}
	m, _ := filepath.Glob(filepath.Join(root2, "public.t", "*", "part-compact-*"))
	if len(cs) != 0 && len(m) != 0 {
		// The second day may have been compacted after re-reading; then
		// its files are live.
		for _, f := range m {
			rel, _ := filepath.Rel(filepath.Join(root2, "public.t"), f)
			if tb.files[filepath.ToSlash(rel)] == nil {
				t.Errorf("abandoned compaction output %s left on disk", rel)
			}
		}
	}
}

// TestMaintainWhileWriting: Maintain in one goroutine while Write commits
// in another, on one Lake: every change lands once.
func TestMaintainWhileWriting(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	l := testOpenWith(t, root, "p", Options{CheckpointInterval: 10, CompactMinFiles: 3, LogRetention: time.Second, DeletedFileRetention: time.Millisecond})
	done := make(chan struct{})
	var maint int
	go func() {
		defer close(done)
		for i := 0; i < 40; i++ {
			if _, err := l.Maintain(ctx, "public.s", time.Now()); err != nil {
				t.Error(err)
				return
			}
			maint++
			time.Sleep(5 * time.Millisecond)
		}
	}()
	next := int64(0)
	for i := 0; i < 200; i++ {
		next = writeCommits(t, l, next, 1, 2, func(int) time.Time { return time.Now() })
	}
	<-done
	tb, _ := l.snapshot("public.s")
	seen := map[int64]int{}
	for _, r := range readAll(t, tb) {
		var p, off int64
		fmtSscan(r, &p, &off)
		seen[off]++
	}
	for off := int64(0); off < next; off++ {
		if seen[off] != 1 {
			t.Fatalf("offset %d read %d times", off, seen[off])
		}
	}
	t.Logf("%d maintenance runs, %d live files at version %d", maint, len(tb.Files()), tb.version)
}

// TestCompactionInputsTiered: earlier compactions' outputs are rewritten
// only with at least as many bytes of new files, so a growing day is not
// rewritten whole on every run.
func TestCompactionInputsTiered(t *testing.T) {
	l := &Lake{opts: Options{CompactMinFiles: 3, TargetFileBytes: 1000}.withDefaults()}
	tb := newTable(nil, "public.s")
	add := func(name string, size int64) string {
		tb.files[name] = &addAction{Path: name, Size: size}
		return name
	}
	var small []string
	for _, f := range []string{"a", "b", "c"} {
		small = append(small, add("dt=1/part-"+f+".parquet", 40))
	}
	big := add("dt=1/part-compact-x-0.parquet", 400) // 400 > 3×40 new bytes
	fit := add("dt=1/part-compact-y-0.parquet", 100)
	small = append(small, big, fit)
	if got := l.compactionInputs(tb, small); got != nil {
		t.Fatalf("3 new files (not more than compact_min_files): %v", got)
	}
	small = append(small, add("dt=1/part-d.parquet", 40))
	got := l.compactionInputs(tb, small)
	want := []string{"dt=1/part-a.parquet", "dt=1/part-b.parquet", "dt=1/part-c.parquet", "dt=1/part-d.parquet", "dt=1/part-compact-y-0.parquet"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("inputs (-want +got):\n%s", d)
	}
}

// TestCompactAcrossWidening: files written before and after a column
// widened (INT32 and INT64) compact into one file of the wide type, which
// the lake and chDB read with every value.
func TestCompactAcrossWidening(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	l := testOpenWith(t, root, "p", Options{CompactMinFiles: 2})
	narrow := &change.Schema{Topic: "p.public.w", Namespace: "public", Table: "w", Columns: []change.Column{
		{Name: "id", Kind: change.Int64, Key: true, SourceType: "bigint"}, {Name: "v", Kind: change.Int32, SourceType: "integer"}}}
	wide := &change.Schema{Topic: "p.public.w", Namespace: "public", Table: "w", Columns: []change.Column{
		{Name: "id", Kind: change.Int64, Key: true, SourceType: "bigint"}, {Name: "v", Kind: change.Int64, SourceType: "bigint"}}}
	narrow.Seal()
	wide.Seal()
	ts := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for off, v := range []any{int32(-7), int32(2147483647), int64(9000000000)} {
		sc := narrow
		if _, ok := v.(int64); ok {
			sc = wide
		}
		if _, _, err := l.Write(ctx, Batch{Table: "public.w", Topic: "p.public.w", Ranges: map[int32]Range{0: {From: int64(off), To: int64(off)}},
			Rows: []change.Row{{Schema: sc, Op: 'c', Values: []any{int64(off), v}, Version: uint64(off + 1), TsMs: ts, Offset: int64(off)}}}); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := l.Compact(ctx, "public.w")
	if err != nil || len(cs) != 1 || len(cs[0].Removed) != 3 {
		t.Fatalf("compact: %+v %v", cs, err)
	}
	tb, _ := l.snapshot("public.w")
	var got []any
	tb.ReadRows(func(rs []change.Row) error {
		for _, r := range rs {
			got = append(got, r.Values[1])
		}
		return nil
	})
	if d := cmp.Diff([]any{int64(-7), int64(2147483647), int64(9000000000)}, got); d != "" {
		t.Fatalf("values (-want +got):\n%s", d)
	}
	dir := filepath.Join(root, "public.w")
	if out := chdbQuery(t, root, "SELECT groupArray(v) FROM (SELECT v FROM deltaLakeLocal('"+dir+"') ORDER BY id)"); out != "[-7,2147483647,9000000000]\n" {
		t.Fatalf("chDB: %q", out)
	}
}

// TestCompactKeepsCommitOrder: the rows of the files compaction merges
// keep their commit order within the day, and so do files committed
// while it ran (a streaming commit that wins the version first) and a
// second compaction merging the first one's output with them: every
// column, _kafka_offset included, reads back exactly, row by row in
// commit order, also from a checkpoint.
func TestCompactKeepsCommitOrder(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	l, _ := OpenWith(root, "p", Options{CompactMinFiles: 5, CheckpointInterval: 1000})
	writeKinds(t, l, 0, 8)
	// The same 16 commits never compacted: the rows and order to expect.
	plain, _ := Open(t.TempDir(), "p")
	writeKinds(t, plain, 0, 16)
	want := rowsByDay(allRows(t, plain))
	other, _ := Open(root, "p") // another engine process
	compactHook = func() {
		compactHook = nil
		writeKinds(t, other, 8, 2) // lands in both days before the compaction commits
	}
	defer func() { compactHook = nil }()
	if cs, err := l.Compact(ctx, "public.t"); err != nil || len(cs) != 2 {
		t.Fatalf("compactions %+v, err %v", cs, err)
	}
	writeKinds(t, l, 10, 6)
	check := func(stage string) {
		t.Helper()
		got := rowsByDay(allRowsOf(t, root))
		if d := cmp.Diff(want, got, cmpRows); d != "" {
			t.Fatalf("%s: rows per day in read order (-want +got):\n%s", stage, d)
		}
		for day, rs := range got {
			for i := 1; i < len(rs); i++ {
				if rs[i].Offset <= rs[i-1].Offset {
					t.Fatalf("%s: day %s row %d has _kafka_offset %d after %d: commit order lost", stage, day, i, rs[i].Offset, rs[i-1].Offset)
				}
			}
		}
	}
	check("after the concurrent commit")
	// The second compaction merges the first one's output with what came after.
	if cs, err := l.Compact(ctx, "public.t"); err != nil || len(cs) == 0 {
		t.Fatalf("second compaction %+v, err %v", cs, err)
	}
	check("after the second compaction")
	tb, _ := l.snapshot("public.t")
	if err := tb.writeCheckpoint(time.Now(), &l.opts); err != nil {
		t.Fatal(err)
	}
	check("from a checkpoint")
	if n := len(allRowsOf(t, root)); n != 48 {
		t.Fatalf("%d rows, want 48", n)
	}
}

// allRowsOf reads public.t as a new process would (a fresh Lake).
func allRowsOf(t *testing.T, root string) []change.Row {
	t.Helper()
	l, err := Open(root, "p")
	if err != nil {
		t.Fatal(err)
	}
	return allRows(t, l)
}
