package lake

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRetention: with retain 3d, the day partitions that ended more than
// three days ago leave the table in one commit; their files stay for time
// travel until the log no longer keeps a version that lists them, then
// vacuum deletes them.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	clk := &clock{t: day0}
	l := testOpenWith(t, root, "p", Options{CheckpointInterval: 10, LogRetention: 24 * time.Hour, DeletedFileRetention: time.Hour,
		Retain: map[string]time.Duration{"public.s": 3 * 24 * time.Hour}, Now: clk.now, CompactMinFiles: -1})
	// Five days, four commits a day.
	writeCommits(t, l, 0, 20, 1, func(i int) time.Time { clk.t = day0.Add(time.Duration(i) * 6 * time.Hour); return clk.t })
	clk.t = day0.Add(5*24*time.Hour + time.Hour) // 2026-01-06 01:00: keep 01-03 on
	removed, err := l.ApplyRetention(ctx, "public.s", clk.now())
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 8 || !strings.HasPrefix(removed[0], "dt=2026-01-01/") || !strings.HasPrefix(removed[7], "dt=2026-01-02/") {
		t.Fatalf("removed %v; want the 8 files of 2026-01-01 and 01-02", removed)
	}
	tb, _ := l.Table("public.s")
	if tb.Rows() != 12 {
		t.Fatalf("rows %d, want 12", tb.Rows())
	}
	if again, _ := l.ApplyRetention(ctx, "public.s", clk.now()); len(again) != 0 {
		t.Fatalf("second pass removed %v", again)
	}
	dir := filepath.Join(root, "public.s")
	if d := duckRows(t, dir); len(d) != 12 {
		t.Fatalf("DuckDB reads %d rows, want 12", len(d))
	}
	// Version 0 still lists them: vacuum keeps them.
	clk.advance(2 * time.Hour)
	if vac, err := l.Vacuum("public.s", clk.now(), false); err != nil || len(vac) != 0 {
		t.Fatalf("vacuum %v %v; want nothing while version 0 is kept", vac, err)
	}
	// Ten more commits a day later: a checkpoint past the retention commit
	// becomes the oldest kept version, and the files go.
	writeCommits(t, l, 20, 10, 1, func(int) time.Time { clk.advance(time.Minute); return clk.t })
	clk.advance(25 * time.Hour)
	if _, oldest, err := l.CleanupLog("public.s", clk.now()); err != nil || oldest != 30 {
		t.Fatalf("cleanup: oldest %d, %v; want 30", oldest, err)
	}
	dry, err := l.Vacuum("public.s", clk.now(), true)
	if err != nil || len(dry) != 8 {
		t.Fatalf("vacuum dry run %v %v; want the 8 retired files", dry, err)
	}
	if _, err := os.Stat(filepath.Join(dir, dry[0])); err != nil {
		t.Fatalf("dry run deleted %s", dry[0])
	}
	vac, _ := l.Vacuum("public.s", clk.now(), false)
	if len(vac) != 8 {
		t.Fatalf("vacuumed %v", vac)
	}
	if _, err := os.Stat(filepath.Join(dir, "dt=2026-01-01")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty partition directory left: %v", err)
	}
	if d := chdbRows(t, dir); len(d) != 22 {
		t.Fatalf("chDB reads %d rows, want 22", len(d))
	}
}

// TestVacuumOrphans: a file no version lists is deleted once it is older
// than the deleted file retention, never before; live files never.
func TestVacuumOrphans(t *testing.T) {
	root := lakeRoot(t)
	l := testOpen(t, root, "p")
	writeCommits(t, l, 0, 3, 1, hourly)
	dir := filepath.Join(root, "public.s")
	old := filepath.Join(dir, "dt=2026-01-01", "part-p.public.s-0-9-9.parquet")
	young := filepath.Join(dir, "dt=2026-01-01", "part-p.public.s-0-10-10.parquet")
	os.WriteFile(old, []byte("x"), 0o644)
	os.WriteFile(young, []byte("x"), 0o644)
	now := time.Now()
	os.Chtimes(old, now.Add(-8*24*time.Hour), now.Add(-8*24*time.Hour))
	vac, err := l.Vacuum("public.s", now, false)
	if err != nil || len(vac) != 1 || vac[0] != "dt=2026-01-01/part-p.public.s-0-9-9.parquet" {
		t.Fatalf("vacuumed %v %v; want only the old orphan", vac, err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatal("young orphan deleted: it may be a batch being written")
	}
	tb, _ := l.Table("public.s")
	if n := len(readAll(t, tb)); n != 3 {
		t.Fatalf("%d rows after vacuum, want 3", n)
	}
}
