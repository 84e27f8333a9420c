package lake

import (
	"context"
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
			rows[j] = change.Row{Schema: simpleSchema, Op: 'c', Values: []any{id % 1000, "n" + time.Duration(id).String(), float64(id) / 4},
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
