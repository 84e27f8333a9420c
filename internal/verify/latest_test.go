package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRecordLatest: each run replaces the results of the tables it
// checked and keeps the others; examples are capped; the file round-trips
// and an unknown format version is refused with the fix.
func TestRecordLatest(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	first := &Report{Tables: []TableReport{
		{Table: "public.a", Postgres: 10, ClickHouse: 10, Lake: 10},
		{Table: "public.b", Postgres: 5, ClickHouse: 4, Lake: -1, Drift: []Drift{{Sink: "clickhouse", Kind: Missing, Rows: 1, Examples: []string{"1", "2", "3", "4", "5"}}}},
	}}
	if err := Record(dir, first, t0); err != nil {
		t.Fatal(err)
	}
	if err := Record(dir, &Report{Tables: []TableReport{{Table: "public.b", Postgres: 5, ClickHouse: 5, Lake: -1}}}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLatest(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Latest{
		"public.a": {Table: "public.a", At: t0, OK: true, Postgres: 10, ClickHouse: 10, Lake: 10},
		"public.b": {Table: "public.b", At: t0.Add(time.Hour), OK: true, Postgres: 5, ClickHouse: 5, Lake: -1},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("latest (-want +got):\n%s", d)
	}
	if err := Record(dir, first, t0); err != nil {
		t.Fatal(err)
	}
	got, _ = ReadLatest(dir)
	if b := got["public.b"]; b.OK || len(b.Drift) != 1 || len(b.Drift[0].Examples) != maxExamples {
		t.Errorf("drifted table %+v; want not ok, 3 examples", b)
	}
	os.WriteFile(filepath.Join(dir, LatestFile), []byte(`{"version": 9, "tables": []}`), 0o644)
	if _, err := ReadLatest(dir); err == nil || !strings.Contains(err.Error(), "run inlet verify again") {
		t.Errorf("unknown version: %v", err)
	}
}
