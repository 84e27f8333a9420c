package clickhouse

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/internal/testenv"
)

// TestRenameAndDropColumns runs against clickhouse-server 18.16, which has
// no RENAME COLUMN: a source column renamed (the same attnum under a new
// name) moves to the new name with its values (add, copy, drop), rows of
// the old schema arriving after the rename (another Kafka partition, a
// replay) land under the new name, a restarted sink finds the rename
// from the columns' comments, and with drop_columns a dropped source
// column is dropped from the mirror (and not added back by an older row).
func TestRenameAndDropColumns(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartClickHouse(t)
	open := func() *Sink {
		s, err := Open(ctx, &Config{Addr: srv.Addr, Database: "ev", DropColumns: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := open()
	schema := func(cols ...change.Column) *change.Schema {
		sc := &change.Schema{Topic: "p.public.ev", Namespace: "public", Table: "ev",
			Columns: append([]change.Column{{Name: "id", Kind: change.Int64, Key: true, SourceType: "bigint", Attnum: 1}}, cols...)}
		sc.Seal()
		return sc
	}
	col := func(name string, n int) change.Column {
		return change.Column{Name: name, Kind: change.String, SourceType: "text", Attnum: n}
	}
	v1 := schema(col("a", 2), col("x", 3))
	v2 := schema(col("b", 2), col("x", 3)) // a renamed to b
	v3 := schema(col("b", 2))              // x dropped
	row := func(sc *change.Schema, id int64, v uint64, vals ...any) change.Row {
		return change.Row{Schema: sc, Op: change.OpCreate, Values: append([]any{id}, vals...), Version: v}
	}
	write := func(s *Sink, rows ...change.Row) {
		t.Helper()
		if _, err := s.Write(ctx, rows); err != nil {
			t.Fatal(err)
		}
	}
	read := func(q string) string {
		t.Helper()
		rows, err := s.conn.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			out = append(out, line)
		}
		return strings.Join(out, "; ")
	}
	columns := func() string {
		return read("SELECT name FROM system.columns WHERE database = 'ev' AND table = 'ev_current' ORDER BY name")
	}

	write(s, row(v1, 1, 10, "one", "x1"), row(v1, 2, 11, "two", "x2"))
	write(s, row(v2, 3, 20, "three", "x3"), row(v1, 4, 12, "four", "x4")) // an older row after the rename
	if got, want := columns(), "_synced_at; _version; b; id; x"; got != want {
		t.Errorf("after the rename the view has %s, want %s", got, want)
	}
	if got, want := read("SELECT concat(toString(id), ' ', ifNull(b, 'NULL'), ' ', ifNull(x, 'NULL')) FROM ev.ev_current ORDER BY id"),
		"1 one x1; 2 two x2; 3 three x3; 4 four x4"; got != want {
		t.Errorf("after the rename: %s, want %s", got, want)
	}

	// A restarted sink replays from before the rename: the comments say
	// a and b are one column, and nothing moves back.
	s = open()
	write(s, row(v1, 2, 11, "two", "x2"), row(v2, 3, 20, "three", "x3"))
	write(s, row(v3, 5, 30, "five"), row(v2, 6, 21, "six", "x6"))
	if got, want := columns(), "_synced_at; _version; b; id"; got != want {
		t.Errorf("after the drop the view has %s, want %s", got, want)
	}
	if got, want := read("SELECT concat(toString(id), ' ', ifNull(b, 'NULL')) FROM ev.ev_current ORDER BY id"),
		"1 one; 2 two; 3 three; 4 four; 5 five; 6 six"; got != want {
		t.Errorf("after the drop: %s, want %s", got, want)
	}
	if got := read("SELECT comment FROM system.columns WHERE database = 'ev' AND table = 'ev' AND name = 'b'"); got != "source type text (attnum 2)" {
		t.Errorf("comment of b: %q", got)
	}

	// A renamed key column cannot be followed: incompatible.
	k := schema(col("b", 2))
	k.Columns[0].Name = "ident"
	k.Seal()
	_, err := s.Write(ctx, []change.Row{row(k, 7, 40, "seven")})
	if err == nil || !strings.Contains(err.Error(), "key column id was renamed to ident") {
		t.Errorf("renamed key column: %v", err)
	}
}

// TestWidenColumns runs against clickhouse-server 18.16: real → double,
// date → timestamp, numeric(5,2) → numeric(10,3), varchar(n) → text and
// timestamp → timestamptz are followed in place (MODIFY COLUMN where the
// mirror type changes), every earlier value kept.
func TestWidenColumns(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartClickHouse(t)
	s, err := Open(ctx, &Config{Addr: srv.Addr, Database: "wd"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	schema := func(cols ...change.Column) *change.Schema {
		sc := &change.Schema{Topic: "p.public.wd", Namespace: "public", Table: "wd",
			Columns: append([]change.Column{{Name: "id", Kind: change.Int64, Key: true, SourceType: "bigint", Attnum: 1}}, cols...)}
		sc.Seal()
		return sc
	}
	narrow := schema(change.Column{Name: "f", Kind: change.Float32, SourceType: "real", Attnum: 2},
		change.Column{Name: "d", Kind: change.Date, SourceType: "date", Attnum: 3},
		change.Column{Name: "n", Kind: change.Decimal, Precision: 5, Scale: 2, SourceType: "numeric(5,2)", Attnum: 4},
		change.Column{Name: "s", Kind: change.String, SourceType: "character varying(4)", Attnum: 5},
		change.Column{Name: "ts", Kind: change.Timestamp, SourceType: "timestamp without time zone", Attnum: 6})
	wide := schema(change.Column{Name: "f", Kind: change.Float64, SourceType: "double precision", Attnum: 2},
		change.Column{Name: "d", Kind: change.Timestamp, SourceType: "timestamp without time zone", Attnum: 3},
		change.Column{Name: "n", Kind: change.Decimal, Precision: 10, Scale: 3, SourceType: "numeric(10,3)", Attnum: 4},
		change.Column{Name: "s", Kind: change.String, SourceType: "text", Attnum: 5},
		change.Column{Name: "ts", Kind: change.TimestampTZ, SourceType: "timestamp with time zone", Attnum: 6})
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	if _, err := s.Write(ctx, []change.Row{{Schema: narrow, Op: change.OpCreate, Version: 1,
		Values: []any{int64(1), float32(1.5), day, "123.45", "abcd", day.Add(time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, []change.Row{{Schema: wide, Op: change.OpCreate, Version: 2,
		Values: []any{int64(2), 2.125, day.Add(90 * time.Minute), "1234567.125", "a longer text", day.Add(2 * time.Hour)}}}); err != nil {
		t.Fatalf("widening: %v", err)
	}
	rows, err := s.conn.Query(ctx, "SELECT concat(toString(id), ' ', toString(f), ' ', toString(d), ' ', toString(n), ' ', s, ' ', toString(ts), ' ', toTypeName(f), ' ', toTypeName(d), ' ', toTypeName(n)) FROM wd.wd_current ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		got = append(got, line)
	}
	want := []string{
		"1 1.5 2026-01-02 00:00:00 123.450 abcd 2026-01-02 01:00:00 Nullable(Float64) Nullable(DateTime('UTC')) Nullable(Decimal(10, 3))",
		"2 2.125 2026-01-02 01:30:00 1234567.125 a longer text 2026-01-02 02:00:00 Nullable(Float64) Nullable(DateTime('UTC')) Nullable(Decimal(10, 3))",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after widening:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
