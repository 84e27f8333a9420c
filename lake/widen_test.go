package lake

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/change"
)

// TestWidenIntegerColumn: a column widened at the source (integer to
// bigint) widens in place in the lake with Delta's typeWidening feature:
// old files keep INT32, new ones INT64, and both the lake's own reader and
// an independent one (chDB's deltaLakeLocal, delta-kernel-rs) read every
// value as the wide type, before and after a checkpoint. A change the lake
// cannot follow in place (integer to text) is ErrIncompatible.
func TestWidenIntegerColumn(t *testing.T) {
	ctx := context.Background()
	root := lakeRoot(t)
	l := testOpen(t, root, "p")
	narrow := &change.Schema{Topic: "p.public.w", Namespace: "public", Table: "w", Columns: []change.Column{
		{Name: "id", Kind: change.Int64, Key: true, SourceType: "bigint"}, {Name: "v", Kind: change.Int32, SourceType: "integer"}}}
	wide := &change.Schema{Topic: "p.public.w", Namespace: "public", Table: "w", Columns: []change.Column{
		{Name: "id", Kind: change.Int64, Key: true, SourceType: "bigint"}, {Name: "v", Kind: change.Int64, SourceType: "bigint"}}}
	text := &change.Schema{Topic: "p.public.w", Namespace: "public", Table: "w", Columns: []change.Column{
		{Name: "id", Kind: change.Int64, Key: true, SourceType: "bigint"}, {Name: "v", Kind: change.String, SourceType: "text"}}}
	for _, s := range []*change.Schema{narrow, wide, text} {
		s.Seal()
	}
	ts := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	write := func(off int64, sc *change.Schema, v any) error {
		_, _, err := l.Write(ctx, Batch{Table: "public.w", Topic: "p.public.w", Ranges: map[int32]Range{0: {From: off, To: off}},
			Rows: []change.Row{{Schema: sc, Op: 'c', Values: []any{off, v}, Version: uint64(off + 1), TsMs: ts, Offset: off}}})
		return err
	}
	if err := write(0, narrow, int32(-7)); err != nil {
		t.Fatal(err)
	}
	if err := write(1, narrow, int32(2147483647)); err != nil {
		t.Fatal(err)
	}
	if err := write(2, wide, int64(9000000000)); err != nil {
		t.Fatalf("widening int to bigint: %v", err)
	}
	want := []string{"0 -7", "1 2147483647", "2 9000000000"}
	check := func(when string) {
		t.Helper()
		tbl, err := l.Table("public.w")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := tbl.ReadRows(func(rows []change.Row) error {
			for _, r := range rows {
				got = append(got, fmt.Sprintf("%v %v", r.Values[0], r.Values[1]))
			}
			return nil
		}); err != nil {
			t.Fatalf("%s: lake read: %v", when, err)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: lake reads %v, want %v", when, got, want)
		}
		dir := filepath.Join(root, "public.w")
		out := chdbQuery(t, root, fmt.Sprintf("SELECT toString(id), toString(v), toTypeName(v) FROM deltaLakeLocal('%s') ORDER BY id", dir))
		var cg []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Split(line, "\t")
			if !strings.Contains(f[2], "Int64") {
				t.Errorf("%s: chDB reads v as %s, want Int64", when, f[2])
			}
			cg = append(cg, f[0]+" "+f[1])
		}
		if strings.Join(cg, ",") != strings.Join(want, ",") {
			t.Errorf("%s: chDB reads %v, want %v", when, cg, want)
		}
	}
	check("after widening")
	tbl, err := l.Table("public.w")
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.writeCheckpoint(time.Now(), &l.opts); err != nil {
		t.Fatal(err)
	}
	l = testOpen(t, root, "p")
	check("after a checkpoint and reopen")
	if err := write(3, text, "x"); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("bigint to text: err %v, want ErrIncompatible", err)
	}
}

// TestWidenBeyondIntegers: real → double precision, date → timestamp and
// numeric(5,2) → numeric(10,3) widen in place with typeWidening too: old
// files keep FLOAT, DATE and decimal(5,2), and both the lake's own reader
// and chDB read every value, old and new, as the wide type. numeric(5,2)
// → numeric (unconstrained: a string in the lake) and timestamp →
// timestamptz are not Delta widenings: ErrIncompatible.
func TestWidenBeyondIntegers(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	l, err := Open(root, "p")
	if err != nil {
		t.Fatal(err)
	}
	schema := func(f, d, n change.Column) *change.Schema {
		s := &change.Schema{Topic: "p.public.w", Namespace: "public", Table: "w", Columns: []change.Column{
			{Name: "id", Kind: change.Int64, Key: true, SourceType: "bigint"}, f, d, n}}
		s.Seal()
		return s
	}
	narrow := schema(change.Column{Name: "f", Kind: change.Float32, SourceType: "real"},
		change.Column{Name: "d", Kind: change.Date, SourceType: "date"},
		change.Column{Name: "n", Kind: change.Decimal, Precision: 5, Scale: 2, SourceType: "numeric(5,2)"})
	wide := schema(change.Column{Name: "f", Kind: change.Float64, SourceType: "double precision"},
		change.Column{Name: "d", Kind: change.Timestamp, SourceType: "timestamp without time zone"},
		change.Column{Name: "n", Kind: change.Decimal, Precision: 10, Scale: 3, SourceType: "numeric(10,3)"})
	ts := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	write := func(off int64, sc *change.Schema, vals ...any) error {
		_, _, err := l.Write(ctx, Batch{Table: "public.w", Topic: "p.public.w", Ranges: map[int32]Range{0: {From: off, To: off}},
			Rows: []change.Row{{Schema: sc, Op: 'c', Values: append([]any{off}, vals...), Version: uint64(off + 1), TsMs: ts, Offset: off}}})
		return err
	}
	if err := write(0, narrow, float32(1.5), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), "123.45"); err != nil {
		t.Fatal(err)
	}
	if err := write(1, narrow, float32(-0.25), time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), "-0.01"); err != nil {
		t.Fatal(err)
	}
	if err := write(2, wide, 2.125, time.Date(2026, 1, 3, 4, 5, 6, 7000, time.UTC), "1234567.125"); err != nil {
		t.Fatalf("widening: %v", err)
	}
	wantLake := []string{
		"0 1.5 2026-01-02T00:00:00Z 123.45",
		"1 -0.25 1969-12-31T00:00:00Z -0.01",
		"2 2.125 2026-01-03T04:05:06.000007Z 1234567.125",
	}
	wantCH := []string{
		"0 1.5 2026-01-02 00:00:00.000000 123.45 Nullable(Float64) Nullable(DateTime64(6)) Nullable(Decimal(10, 3))",
		"1 -0.25 1969-12-31 00:00:00.000000 -0.01 Nullable(Float64) Nullable(DateTime64(6)) Nullable(Decimal(10, 3))",
		"2 2.125 2026-01-03 04:05:06.000007 1234567.125 Nullable(Float64) Nullable(DateTime64(6)) Nullable(Decimal(10, 3))",
	}
	check := func(when string) {
		t.Helper()
		tbl, err := l.Table("public.w")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := tbl.ReadRows(func(rows []change.Row) error {
			for _, r := range rows {
				d := r.Values[2].(time.Time)
				ds := d.Format(time.RFC3339Nano)
				got = append(got, fmt.Sprintf("%v %v %s %v", r.Values[0], r.Values[1], ds, r.Values[3]))
			}
			return nil
		}); err != nil {
			t.Fatalf("%s: lake read: %v", when, err)
		}
		if strings.Join(got, "\n") != strings.Join(wantLake, "\n") {
			t.Errorf("%s: lake reads\n%s\nwant\n%s", when, strings.Join(got, "\n"), strings.Join(wantLake, "\n"))
		}
		dir := filepath.Join(root, "public.w")
		out := chdbQuery(t, root, fmt.Sprintf(`SELECT toString(id), toString(f),
			toString(d), toString(n), toTypeName(f), toTypeName(d), toTypeName(n)
			FROM deltaLakeLocal('%s') ORDER BY id`, dir))
		got = strings.Split(strings.ReplaceAll(strings.TrimSpace(out), "\t", " "), "\n")
		if strings.Join(got, "\n") != strings.Join(wantCH, "\n") {
			t.Errorf("%s: chDB reads\n%s\nwant\n%s", when, strings.Join(got, "\n"), strings.Join(wantCH, "\n"))
		}
	}
	check("after widening")
	tbl, err := l.Table("public.w")
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.writeCheckpoint(time.Now(), &l.opts); err != nil {
		t.Fatal(err)
	}
	if l, err = Open(root, "p"); err != nil {
		t.Fatal(err)
	}
	check("after a checkpoint and reopen")
	unconstrained := schema(wide.Columns[1], wide.Columns[2], change.Column{Name: "n", Kind: change.Decimal, SourceType: "numeric"})
	if err := write(3, unconstrained, 1.0, time.Now(), "1"); !errors.Is(err, ErrIncompatible) {
		t.Errorf("numeric(10,3) to numeric: err %v, want ErrIncompatible", err)
	}
	tz := schema(wide.Columns[1], change.Column{Name: "d", Kind: change.TimestampTZ, SourceType: "timestamp with time zone"}, wide.Columns[3])
	if err := write(3, tz, 1.0, time.Now(), "1"); !errors.Is(err, ErrIncompatible) {
		t.Errorf("timestamp to timestamptz: err %v, want ErrIncompatible", err)
	}
}
