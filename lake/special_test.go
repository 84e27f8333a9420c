package lake

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inlet-dev/inlet/change"
)

// TestSpecialValuesRoundTrip: what docs/types.md promises the lake keeps
// exactly comes back exactly through Inlet's own reader (rebuild, verify).
func TestSpecialValuesRoundTrip(t *testing.T) {
	sc := &change.Schema{Namespace: "public", Table: "odd", Columns: []change.Column{
		{Name: "id", Kind: change.Int32, Key: true},
		{Name: "d", Kind: change.Date},
		{Name: "ts", Kind: change.Timestamp},
		{Name: "tz", Kind: change.TimestampTZ},
		{Name: "n", Kind: change.Decimal, Precision: 10, Scale: 2},
		{Name: "ad", Kind: change.Array, Elem: change.Date},
	}}
	sc.Seal()
	d := func(y, m, dd int) time.Time { return time.Date(y, time.Month(m), dd, 0, 0, 0, 0, time.UTC) }
	vals := [][]any{
		{int32(1), change.PosInfinity, change.PosInfinity, change.NegInfinity, "NaN", []any{change.NegInfinity, nil, d(-43, 3, 15)}},
		{int32(2), d(-4712, 11, 24), time.Date(-43, 3, 15, 12, 0, 0, 1000, time.UTC), d(9999, 12, 31), "12.30", []any{}},
		{int32(3), d(5874897, 12, 31), d(1969, 12, 31).Add(-time.Microsecond), change.MaxFiniteTime, "-99999999.99", nil},
	}
	var rows []Row
	for i, v := range vals {
		rows = append(rows, Row{Schema: sc, Op: change.OpCreate, Values: v, Version: 1, Offset: int64(i)})
	}
	cols, _, _, err := mergeColumns(append([]change.Column(nil), metaColumns...), sc.Columns, map[string][]typeChange{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tb := newTable(storeAt(lakeRoot(t)), "public.t")
	if _, err := writeParquet(tb.st, tb.key("f.parquet"), cols, rows); err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, c := range sc.Columns {
		pos[c.Name] = i
	}
	got, err := tb.readFile("f.parquet", cols, sc, pos)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if d := cmp.Diff(vals[i], r.Values); d != "" {
			t.Errorf("row %d (-wrote +read):\n%s", i+1, d)
		}
	}
}
