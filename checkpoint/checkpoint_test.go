package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inlet-dev/inlet/internal/testenv"
)

func TestGoldenRoundTrip(t *testing.T) {
	data, err := os.ReadFile("testdata/batch_v1.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	want := Batch{
		FormatVersion: 1, ID: 7, Sink: "clickhouse",
		Time:         time.Date(2026, 11, 25, 4, 0, 0, 123456000, time.UTC),
		Offsets:      []Offset{{Topic: "shop.public.orders", Partition: 0, Next: 1042}},
		Rows:         map[string]int64{"public.orders": 1000},
		LakeVersions: map[string]int64{"public.orders": 6},
	}
	if d := cmp.Diff(want, b); d != "" {
		t.Fatalf("decoded (-want +got):\n%s", d)
	}
	out, err := Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(data), out) {
		t.Fatalf("re-encoded differs:\n%s\n%s", data, out)
	}
}

func TestRejectsUnknownVersion(t *testing.T) {
	for _, f := range []string{"testdata/batch_v99.json"} {
		data, _ := os.ReadFile(f)
		if _, err := Decode(data); !errors.Is(err, ErrUnknownVersion) {
			t.Errorf("%s: err = %v, want ErrUnknownVersion", f, err)
		}
	}
	if _, err := Decode([]byte(`{"id":1}`)); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("missing version: err = %v", err)
	}
}

func TestFileStore(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	conformance(t, s, func() Store { s2, _ := OpenFile(dir); return s2 })
	ctx := context.Background()
	s2, _ := OpenFile(dir)
	// A torn history line (crash while appending) is ignored.
	f, _ := os.OpenFile(filepath.Join(dir, "lake", "history.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"format_version":1,"id":4,"si`)
	f.Close()
	// (after the conformance run: 3 commits and one rewind)
	if hist, err := s2.History(ctx, "lake"); err != nil || len(hist) != 4 {
		t.Fatalf("history after torn line = %d, err %v", len(hist), err)
	}
}

func TestPostgresStore(t *testing.T) {
	pg := testenv.StartPostgres(t)
	ctx := context.Background()
	open := func() Store {
		s, err := OpenPostgres(ctx, pg.DSN("postgres"), "inlet_checkpoints", "shop")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	conformance(t, open(), open)
	// Another pipeline in the same table is independent.
	other, err := OpenPostgres(ctx, pg.DSN("postgres"), "inlet_checkpoints", "other")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, ok, _ := other.Latest(ctx, "lake"); ok {
		t.Fatal("pipelines share checkpoints")
	}
}

// conformance is what every Store must do: sequential ids, atomic latest,
// history, stale-id rejection, rewind, and the same state when reopened.
func conformance(t *testing.T, s Store, reopen func() Store) {
	t.Helper()
	ctx := context.Background()
	if _, ok, err := s.Latest(ctx, "lake"); ok || err != nil {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	for i := uint64(1); i <= 3; i++ {
		b := Batch{ID: i, Sink: "lake", Offsets: []Offset{{Topic: "t", Partition: 0, Next: int64(i * 10)}}}
		if err := s.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Commit(ctx, Batch{ID: 3, Sink: "lake"}); err == nil {
		t.Fatal("commit of a stale id succeeded; want an error")
	}
	if err := s.Commit(ctx, Batch{ID: 9, Sink: "lake"}); err == nil {
		t.Fatal("commit of a skipped id succeeded; want an error")
	}
	s2 := reopen()
	b, ok, err := s2.Latest(ctx, "lake")
	if err != nil || !ok || b.ID != 3 || b.Next("t", 0) != 30 {
		t.Fatalf("latest = %+v ok=%v err=%v", b, ok, err)
	}
	hist, err := s2.History(ctx, "lake")
	if err != nil || len(hist) != 3 {
		t.Fatalf("history = %d batches, err %v", len(hist), err)
	}
	if _, ok, _ := s2.Latest(ctx, "clickhouse"); ok {
		t.Fatal("sinks share checkpoints")
	}
	rb, err := s2.Rewind(ctx, "lake", 1)
	if err != nil || rb.ID != 4 || rb.Next("t", 0) != 10 {
		t.Fatalf("rewind = %+v, %v", rb, err)
	}
	if b, _, _ := s2.Latest(ctx, "lake"); b.Next("t", 0) != 10 || b.ID != 4 {
		t.Fatalf("after rewind latest = %+v, want id 4 next 10", b)
	}
}

// pruneConformance: Prune keeps the latest batch and everything at or
// after the horizon, folds the dropped batches' table versions into the
// first kept one, and later commits go on from the same ids.
func pruneConformance(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := uint64(1); i <= 10; i++ {
		b := Batch{ID: i, Sink: "hist", Time: day0.Add(time.Duration(i) * 24 * time.Hour),
			Offsets: []Offset{{Topic: "t", Partition: 0, Next: int64(i)}}, LakeVersions: map[string]int64{}}
		if i <= 3 {
			b.LakeVersions["public.quiet"] = int64(i) // written early, never since
		}
		b.LakeVersions["public.busy"] = int64(100 + i)
		if err := s.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := s.Prune(ctx, "hist", day0.Add(7*24*time.Hour))
	if err != nil || removed != 6 {
		t.Fatalf("prune removed %d, err %v; want 6", removed, err)
	}
	hist, err := s.History(ctx, "hist")
	if err != nil || len(hist) != 4 || hist[0].ID != 7 {
		t.Fatalf("after prune: %d batches from id %d, err %v; want 4 from 7", len(hist), hist[0].ID, err)
	}
	if v := hist[0].LakeVersions; v["public.quiet"] != 3 || v["public.busy"] != 107 {
		t.Fatalf("first kept batch carries versions %v; want quiet 3 (folded) and busy 107", v)
	}
	if n, err := s.Prune(ctx, "hist", day0.Add(100*24*time.Hour)); err != nil || n != 3 {
		t.Fatalf("prune past everything removed %d, err %v; want 3 (the latest stays)", n, err)
	}
	if b, ok, _ := s.Latest(ctx, "hist"); !ok || b.ID != 10 {
		t.Fatalf("latest after prune = %d, want 10", b.ID)
	}
	if err := s.Commit(ctx, Batch{ID: 11, Sink: "hist"}); err != nil {
		t.Fatalf("commit after prune: %v", err)
	}
	if hist, _ := s.History(ctx, "hist"); len(hist) != 2 || hist[0].LakeVersions["public.quiet"] != 3 {
		t.Fatalf("history after prune and commit: %+v", hist)
	}
}

func TestPrune(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		s, err := OpenFile(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		pruneConformance(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		pg := testenv.StartPostgres(t)
		s, err := OpenPostgres(context.Background(), pg.DSN("postgres"), "inlet_checkpoints", "shop")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		pruneConformance(t, s)
	})
}
