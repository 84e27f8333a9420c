package lake

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inlet-dev/inlet/change"
)

// TestLongRun makes 2,000 commits on one table through Write, as two weeks
// of streaming at one commit every ten minutes would, then runs
// maintenance: retention of old days, compaction, checkpoints, log
// cleanup and vacuum. Through it all the independent readers return
// exactly the rows the lake should hold, an open reads at most
// checkpoint_interval+1 log files, and vacuum never deletes a file a
// version the log keeps still references.
func TestLongRun(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	dir := filepath.Join(root, "public.s")
	clk := &clock{t: day0}
	opts := Options{CheckpointInterval: 100, LogRetention: 3 * 24 * time.Hour, DeletedFileRetention: 24 * time.Hour,
		TargetFileBytes: 1 << 20, CompactMinFiles: 20, Retain: map[string]time.Duration{"public.s": 10 * 24 * time.Hour}, Now: clk.now}
	l := testOpenWith(t, root, "p", opts)
	const rowsPer = 1
	day := map[int64]string{} // offset → day of its row
	tick := func(i int) time.Time {
		clk.advance(10 * time.Minute)
		return clk.t
	}
	write := func(from int64, n int) int64 {
		next := writeCommits(t, l, from, n, rowsPer, tick)
		// writeCommits stamps each commit's rows with the clock after tick.
		at := clk.t.Add(-time.Duration(n-1) * 10 * time.Minute)
		for off := from; off < next; off++ {
			day[off] = at.Add(time.Duration((off-from)/rowsPer) * 10 * time.Minute).UTC().Format("2006-01-02")
		}
		return next
	}
	expect := func(firstDay string) []string {
		var out []string
		for off := int64(0); off < int64(len(day)); off++ {
			if day[off] >= firstDay {
				out = append(out, expectedRow(off, day[off]))
			}
		}
		return sortedByOffset(out)
	}
	openTimed := func() (*Table, time.Duration) {
		start := time.Now()
		tb, err := openTable(storeAt(root), "public.s")
		if err != nil {
			t.Fatal(err)
		}
		return tb, time.Since(start)
	}

	// What inlet status reads of a lake table (Lake.Stats: a fresh open
	// plus the log listing), timed the same way.
	statusTimed := func() time.Duration {
		start := time.Now()
		if _, err := l.Stats("public.s"); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}

	next := write(0, 200)
	tb, d200 := openTimed()
	s200 := statusTimed()
	if tb.replayed > 101 {
		t.Errorf("open at version %d read %d log files, want ≤ 101", tb.version, tb.replayed)
	}
	next = write(next, 1800)
	tb, d2000 := openTimed()
	s2000 := statusTimed()
	if tb.replayed > 101 {
		t.Errorf("open at version %d read %d log files, want ≤ 101", tb.version, tb.replayed)
	}
	t.Logf("open: %v at 200 commits, %v at 2,000 commits (%d log files read); inlet status's lake stats: %v and %v", d200, d2000, tb.replayed, s200, s2000)

	all := expect("")
	checkReaders := func(stage string, want []string) {
		t.Helper()
		if d := cmp.Diff(want, duckRows(t, dir)); d != "" {
			t.Fatalf("%s: DuckDB (-want +got):\n%s", stage, d)
		}
		if d := cmp.Diff(want, chdbRows(t, dir)); d != "" {
			t.Fatalf("%s: chDB (-want +got):\n%s", stage, d)
		}
		tb, err := openTable(storeAt(root), "public.s")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, sortedByOffset(readAll(t, tb))); d != "" {
			t.Fatalf("%s: lake ReadRows (-want +got):\n%s", stage, d)
		}
	}
	checkReaders("2,000 commits", all)
	filesBefore := len(tb.Files())

	// Compaction alone: exactly the same rows.
	cs, err := l.Compact(ctx, "public.s")
	if err != nil || len(cs) == 0 {
		t.Fatalf("compact: %d compactions, %v", len(cs), err)
	}
	checkReaders("after compaction", all)

	// Maintenance now: days wholly older than 10 days go, nothing is old
	// enough to vacuum yet.
	rep, err := l.Maintain(ctx, "public.s", clk.now())
	if err != nil {
		t.Fatal(err)
	}
	first := clk.t.Add(-10 * 24 * time.Hour).UTC().Format("2006-01-02")
	if len(rep.RetentionRemoved) == 0 || len(rep.Vacuumed) != 0 {
		t.Fatalf("maintenance: %d files retired, %d vacuumed; want retention, no vacuum", len(rep.RetentionRemoved), len(rep.Vacuumed))
	}
	kept := expect(first)
	checkReaders("after retention", kept)
	tb, _ = openTimed()
	t.Logf("after maintenance: %d live files (was %d), %d log files deleted, oldest version %d", len(tb.Files()), filesBefore, len(rep.LogFilesDeleted), rep.OldestVersion)
	compactedAt := tb.version

	// Two weeks on, at a few commits a day: the log before the compaction
	// ages out, and with it the versions that referenced the small files.
	for i := 0; i < 14; i++ {
		clk.advance(24 * time.Hour)
		next = write(next, 30)
		if _, err := l.Maintain(ctx, "public.s", clk.now()); err != nil {
			t.Fatal(err)
		}
		// Vacuum never deletes what a kept version references: every file
		// of the oldest kept version is still there and reads.
		oldest, err := l.OldestVersion("public.s")
		if err != nil {
			t.Fatal(err)
		}
		at, err := openTableUpTo(storeAt(root), "public.s", oldest)
		if err != nil {
			t.Fatalf("day %d: open at oldest version %d: %v", i, oldest, err)
		}
		for _, f := range at.Files() {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Fatalf("day %d: version %d (the oldest kept) lists %s, which vacuum deleted: %v", i, oldest, f, err)
			}
		}
		if i == 13 {
			if err := at.ReadRows(func([]change.Row) error { return nil }); err != nil {
				t.Fatalf("read at oldest version %d after vacuum: %v", oldest, err)
			}
		}
	}
	oldest, _ := l.OldestVersion("public.s")
	if oldest <= compactedAt {
		t.Fatalf("oldest version %d, want past the compaction at %d", oldest, compactedAt)
	}
	for _, c := range cs {
		for _, f := range c.Removed {
			if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("compacted-away file %s still on disk after its versions aged out (vacuum)", f)
			}
		}
	}
	first = clk.t.Add(-10 * 24 * time.Hour).UTC().Format("2006-01-02")
	checkReaders("after two weeks of cleanup and vacuum", expect(first))
	logFiles, _ := os.ReadDir(filepath.Join(dir, "_delta_log"))
	t.Logf("two weeks later: %d entries in _delta_log, oldest version %d", len(logFiles), oldest)

	// Rewind to the oldest kept version works; one before it is refused.
	if err := l.Rewind(ctx, "public.s", oldest-1); !errors.Is(err, ErrTooOld) || !strings.Contains(err.Error(), "is "+strconv.FormatInt(oldest, 10)) {
		t.Fatalf("rewind before oldest: %v", err)
	}
	if err := l.Rewind(ctx, "public.s", oldest); err != nil {
		t.Fatal(err)
	}
}
