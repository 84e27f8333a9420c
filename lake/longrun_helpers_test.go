package lake

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/change"
)

var simpleSchema = &change.Schema{Topic: "p.public.s", Namespace: "public", Table: "s", Columns: []change.Column{
	{Name: "id", Kind: change.Int64, Key: true}, {Name: "name", Kind: change.String}, {Name: "amount", Kind: change.Float64},
}}

func init() { simpleSchema.Seal() }

// writeCommits makes n commits of rowsPer rows each on public.s through
// Write; offsets continue from from. Rows' timestamps come from day (ms).
func writeCommits(t testing.TB, l *Lake, from int64, n, rowsPer int, day func(i int) time.Time) int64 {
	t.Helper()
	ctx := context.Background()
	off := from
	for i := 0; i < n; i++ {
		rows := make([]change.Row, rowsPer)
		ts := day(i)
		for j := range rows {
			id := off + int64(j)
			rows[j] = change.Row{Schema: simpleSchema, Op: 'c', Values: []any{id % 1000, fmt.Sprintf("n%d", id), float64(id) / 4},
				Version: uint64(id + 1), TsMs: ts.UnixMilli(), Partition: int32(id % 2), Offset: id}
		}
		ranges := map[int32]Range{}
		for _, r := range rows {
			rg, ok := ranges[r.Partition]
			if !ok {
				rg = Range{From: r.Offset, To: r.Offset}
			}
			rg.To = r.Offset
			ranges[r.Partition] = rg
		}
		if _, _, err := l.Write(ctx, Batch{Table: "public.s", Topic: "p.public.s", Rows: rows, Ranges: ranges}); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
		off += int64(rowsPer)
	}
	return off
}

// clock is a controllable clock for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// expected renders the row of offset off as the independent readers do:
// partition, offset, id, name, amount*4, op, version, day.
func expectedRow(off int64, day string) string {
	return fmt.Sprintf("%d\t%d\t%d\tn%d\t%d\tc\t%d\t%s", off%2, off, off%1000, off, off, off+1, day)
}

// openJSONOnly replays every JSON commit from version 0, ignoring
// checkpoints: the reference state a checkpoint must reproduce.
func openJSONOnly(t testing.TB, root, name string) *Table {
	t.Helper()
	tb := newTable(storeAt(root), name)
	ls, err := listLog(tb.st, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range ls.commits {
		if err := tb.replay(v); err != nil {
			t.Fatal(err)
		}
	}
	return tb
}

// readAll returns the table's rows as expectedRow renders them, in
// ReadRows order.
func readAll(t testing.TB, tb *Table) []string {
	t.Helper()
	var out []string
	err := tb.ReadRows(func(rs []change.Row) error {
		for _, r := range rs {
			day := time.UnixMilli(r.TsMs).UTC().Format("2006-01-02")
			out = append(out, fmt.Sprintf("%d\t%d\t%d\t%s\t%d\t%c\t%d\t%s", r.Partition, r.Offset, r.Values[0], r.Values[1], int64(r.Values[2].(float64)*4), r.Op, r.Version, day))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fmtSscan(s string, p, off *int64) { fmt.Sscanf(s, "%d\t%d", p, off) }
