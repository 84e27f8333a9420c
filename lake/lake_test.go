package lake

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inlet-dev/inlet/change"
)

var allKinds = &change.Schema{Topic: "p.public.t", Namespace: "public", Table: "t", Columns: []change.Column{
	{Name: "id", Kind: change.Int64, Key: true}, {Name: "i2", Kind: change.Int16}, {Name: "i4", Kind: change.Int32},
	{Name: "d9", Kind: change.Decimal, Precision: 9, Scale: 3}, {Name: "d30", Kind: change.Decimal, Precision: 30, Scale: 4},
	{Name: "dfree", Kind: change.Decimal}, {Name: "f4", Kind: change.Float32}, {Name: "f8", Kind: change.Float64},
	{Name: "b", Kind: change.Bool}, {Name: "s", Kind: change.String}, {Name: "u", Kind: change.UUID},
	{Name: "j", Kind: change.JSON}, {Name: "by", Kind: change.Bytes}, {Name: "dt", Kind: change.Date},
	{Name: "ts", Kind: change.Timestamp}, {Name: "tz", Kind: change.TimestampTZ},
	{Name: "ai", Kind: change.Array, Elem: change.Int32}, {Name: "as", Kind: change.Array, Elem: change.String},
}}

func init() { allKinds.Seal() }

func sampleRows() []change.Row {
	ts := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
	full := []any{int64(1), int16(-2), int32(3), "-123456.789", "-12345678901234567890123456.0001", "3.14159265358979323846",
		float32(1.5), -2.25, true, "text ✓", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", `{"a":1}`, []byte{0, 1, 255},
		time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), ts, ts, []any{int32(1), nil, int32(3)}, []any{}}
	nulls := make([]any, len(full))
	nulls[0] = int64(2)
	toast := append([]any(nil), full...)
	toast[0], toast[9] = int64(3), change.Unchanged{}
	return []change.Row{
		{Schema: allKinds, Op: 'c', Values: full, Version: 100, TsMs: ts.UnixMilli(), Offset: 0},
		{Schema: allKinds, Op: 'u', Values: nulls, Version: 101, TsMs: ts.UnixMilli(), Offset: 1},
		{Schema: allKinds, Op: 'u', Values: toast, Version: 102, TsMs: ts.Add(48 * time.Hour).UnixMilli(), Offset: 2},
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	l := testOpen(t, root, "p")
	rows := sampleRows()
	if _, wrote, err := l.Write(ctx, Batch{Table: "public.t", Topic: "p.public.t", Rows: rows, Ranges: map[int32]Range{0: {From: 0, To: 2}}}); err != nil || !wrote {
		t.Fatalf("write: %v %v", wrote, err)
	}
	// A retried batch adds nothing.
	if _, wrote, err := l.Write(ctx, Batch{Table: "public.t", Topic: "p.public.t", Rows: rows, Ranges: map[int32]Range{0: {From: 0, To: 2}}}); err != nil || wrote {
		t.Fatalf("retry wrote=%v err=%v", wrote, err)
	}
	l2 := testOpen(t, root, "p")
	tbl, err := l2.Table("public.t")
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Rows() != 3 || tbl.part != "_dt" || len(tbl.Files()) != 2 {
		t.Fatalf("rows %d, partition column %q, files %v", tbl.Rows(), tbl.part, tbl.Files())
	}
	var got []change.Row
	tbl.ReadRows(func(rs []change.Row) error { got = append(got, rs...); return nil })
	if len(got) != 3 {
		t.Fatalf("read %d rows", len(got))
	}
	for i := range rows {
		want := rows[i].Values
		if d := cmp.Diff(want, got[i].Values); d != "" {
			t.Errorf("row %d (-wrote +read):\n%s", i, d)
		}
		if got[i].Op != rows[i].Op || got[i].Version != rows[i].Version || got[i].Offset != rows[i].Offset {
			t.Errorf("row %d meta = %c %d %d", i, got[i].Op, got[i].Version, got[i].Offset)
		}
	}
}

func TestRewindAndOrphans(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	l := testOpen(t, root, "p")
	rows := sampleRows()
	for i, r := range rows {
		if _, _, err := l.Write(ctx, Batch{Table: "public.t", Topic: "p.public.t", Rows: []change.Row{r}, Ranges: map[int32]Range{0: {From: int64(i), To: int64(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	tbl, _ := l.Table("public.t")
	if v, _ := tbl.TxnVersion(l.AppID("p.public.t", 0)); v != 2 {
		t.Fatalf("txn version %d", v)
	}
	if err := l.Rewind(ctx, "public.t", 0); err != nil {
		t.Fatal(err)
	}
	tbl, _ = l.Table("public.t")
	if v, _ := tbl.TxnVersion(l.AppID("p.public.t", 0)); v != 0 || tbl.Rows() != 1 || len(tbl.Files()) != 1 {
		t.Fatalf("after rewind: txn %d rows %d files %v", v, tbl.Rows(), tbl.Files())
	}
	// A file no log version lists is an orphan of a crashed batch.
	orphan := filepath.Join(root, "public.t", "_dt=2026-03-04", "part-p.public.t-0-9-9.parquet")
	os.WriteFile(orphan, []byte("x"), 0o644)
	removed, err := l.RemoveOrphans("public.t")
	if err != nil || len(removed) != 1 || removed[0] != "_dt=2026-03-04/part-p.public.t-0-9-9.parquet" {
		t.Fatalf("removed %v, err %v; want only the orphan", removed, err)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatal("orphan still there")
	}
	// The rewound files were listed by earlier versions: they stay on disk
	// for readers of those versions (time travel) until retention removes
	// them.
	for _, f := range []string{"part-p.public.t-0-1-1.parquet", "part-p.public.t-0-2-2.parquet"} {
		m, _ := filepath.Glob(filepath.Join(root, "public.t", "*", f))
		if len(m) != 1 {
			t.Errorf("rewound file %s: found %v, want it kept", f, m)
		}
	}
}

// TestFollow: a reader in another process follows a live table.
func TestFollow(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	w := testOpen(t, root, "p")
	rows := sampleRows()
	if _, _, err := w.Write(ctx, Batch{Table: "public.t", Topic: "p.public.t", Rows: rows[:1], Ranges: map[int32]Range{0: {From: 0, To: 0}}}); err != nil {
		t.Fatal(err)
	}
	r := testOpen(t, root, "p")
	tbl, err := r.Table("public.t")
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Rows() != 1 {
		t.Fatalf("rows %d, want 1", tbl.Rows())
	}
	if _, _, err := w.Write(ctx, Batch{Table: "public.t", Topic: "p.public.t", Rows: rows[1:], Ranges: map[int32]Range{0: {From: 1, To: 2}}}); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Follow(); err != nil {
		t.Fatal(err)
	}
	if v, _ := tbl.TxnVersion(w.AppID("p.public.t", 0)); tbl.Rows() != 3 || v != 2 {
		t.Fatalf("after Follow: rows %d, txn %d; want 3 and 2", tbl.Rows(), v)
	}
}

// TestWriteSkipsRowsItHas: a batch overlapping committed offsets adds only
// the rows after them.
func TestWriteSkipsRowsItHas(t *testing.T) {
	ctx := context.Background()
	l := testOpen(t, lakeRoot(t), "p")
	rows := sampleRows()
	if _, _, err := l.Write(ctx, Batch{Table: "public.t", Topic: "p.public.t", Rows: rows[:2], Ranges: map[int32]Range{0: {From: 0, To: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, wrote, err := l.Write(ctx, Batch{Table: "public.t", Topic: "p.public.t", Rows: rows, Ranges: map[int32]Range{0: {From: 0, To: 2}}}); err != nil || !wrote {
		t.Fatalf("wrote=%v err=%v", wrote, err)
	}
	tbl, _ := l.Table("public.t")
	if tbl.Rows() != 3 {
		t.Fatalf("rows %d, want 3 (the overlap added once)", tbl.Rows())
	}
}
