package lake

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/lake/store"
)

// TestScaledIntMatchesDecimal checks the allocation-free decimal parser
// against shopspring/decimal, the exact slow path, on every form it takes.
func TestScaledIntMatchesDecimal(t *testing.T) {
	for _, tc := range []struct {
		s     string
		scale int
	}{
		{"0", 2}, {"12.3", 2}, {"12.30", 2}, {"-0.01", 2}, {"+5", 0}, {"999999999999999999", 0},
		{"-99999999.99", 2}, {"1", 18}, {".5", 1}, {"5.", 1},
	} {
		n, ok := scaledInt(tc.s, tc.scale)
		if !ok {
			t.Errorf("scaledInt(%q, %d): not parsed", tc.s, tc.scale)
			continue
		}
		want := decimal.RequireFromString(tc.s).Shift(int32(tc.scale)).BigInt().Int64()
		if n != want {
			t.Errorf("scaledInt(%q, %d) = %d, want %d", tc.s, tc.scale, n, want)
		}
	}
	for _, s := range []string{"", "-", ".", "1e5", "1.234", "NaN", "Infinity", "12345678901234567890", "1.2.3"} {
		if n, ok := scaledInt(s, 2); ok {
			t.Errorf("scaledInt(%q, 2) = %d, want the slow path", s, n)
		}
	}
}

// benchRows are rows of the snapshot benchmark's table.
func benchRows(n int) ([]change.Column, []Row) {
	sc := &change.Schema{Topic: "t", Table: "snap", Columns: []change.Column{
		{Name: "id", Kind: change.Int64}, {Name: "customer_id", Kind: change.Int32}, {Name: "status", Kind: change.String},
		{Name: "amount", Kind: change.Decimal, Precision: 12, Scale: 2}, {Name: "created_at", Kind: change.TimestampTZ},
		{Name: "active", Kind: change.Bool}, {Name: "note", Kind: change.String},
	}}
	sc.Seal()
	cols, _, _, err := mergeColumns(append([]change.Column(nil), metaColumns...), sc.Columns, map[string][]typeChange{}, nil)
	if err != nil {
		panic(err)
	}
	rows := make([]Row, n)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		rows[i] = Row{Schema: sc, Op: change.OpRead, Version: 1, TsMs: 1_780_000_000_000, Offset: int64(i), Values: []any{
			int64(i), int32(i % 100000), "paid", fmt.Sprintf("%d.%02d", i%1000, i%100), t0.Add(time.Duration(i) * time.Second),
			i%3 == 0, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef nnnn"}}
	}
	return cols, rows
}

// TestColumnWriteRoundTrip writes rows of several schemas (a column added
// midway) and reads them back.
func TestColumnWriteRoundTrip(t *testing.T) {
	cols, rows := benchRows(5000)
	st, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tb := &Table{Name: "t", st: st}
	if _, err := writeParquet(st, tb.key("f.parquet"), cols, rows); err != nil {
		t.Fatal(err)
	}
	sc := rows[0].Schema
	pos := map[string]int{}
	for i, c := range sc.Columns {
		pos[c.Name] = i
	}
	got, err := tb.readFile("f.parquet", cols, sc, pos)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("read %d rows, wrote %d", len(got), len(rows))
	}
	for i := range rows {
		want := append([]any(nil), rows[i].Values...)
		want[3] = decimal.RequireFromString(want[3].(string)).StringFixed(2)
		if d := cmp.Diff(want, got[i].Values); d != "" {
			t.Fatalf("row %d (-wrote +read):\n%s", i, d)
		}
		if got[i].Offset != rows[i].Offset || got[i].Op != rows[i].Op || got[i].TsMs != rows[i].TsMs {
			t.Fatalf("row %d: meta %+v, wrote %+v", i, got[i], rows[i])
		}
	}
}

// BenchmarkWriteParquet is the lake's hot path: a batch of the snapshot
// benchmark's rows into one file (run with -benchmem: allocations per row
// are allocs/op divided by the rows).
func BenchmarkWriteParquet(b *testing.B) {
	const n = 100_000
	cols, rows := benchRows(n)
	st, err := store.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := writeParquet(st, "t/f.parquet", cols, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}
