package verify

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// TestNormAgrees: the forms Postgres, ClickHouse and the lake give one
// value render the same, under each sink's rules.
func TestNormAgrees(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)
	local := ts.In(time.FixedZone("X", 3600))
	str := func(s string) *string { return &s }
	old := target{secondsOnly: true, nullArrayIs: true}
	tests := []struct {
		name, kind string
		tg         target
		values     []any // all must render as want
		want       string
	}{
		{"int", kInt, target{}, []any{int16(7), int32(7), int64(7)}, "7"},
		{"numeric", kNum, target{}, []any{"12.3400", decimal.RequireFromString("12.34"), str("12.340")}, "12.34"},
		{"numeric NaN", kNum, target{}, []any{"NaN"}, "NaN"},
		{"real", kF4, target{}, []any{float32(0.1)}, "0.1"},
		{"bool on 18.16", kBool, old, []any{true, uint8(1)}, "true"},
		{"date", kDate, target{}, []any{time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}, "2026-01-02"},
		{"timestamptz, lake", kTSTZ, target{}, []any{ts, local}, "2026-01-02 03:04:05.678901"},
		{"timestamptz, clickhouse 18.16", kTSTZ, old, []any{ts, ts.Truncate(time.Second)}, "2026-01-02 03:04:05"},
		{"uuid", kUUID, target{}, []any{"0E9B1A7C-8C5B-4C1E-9F3A-1B2C3D4E5F60", uuid.MustParse("0e9b1a7c-8c5b-4c1e-9f3a-1b2c3d4e5f60"), [16]byte(uuid.MustParse("0e9b1a7c-8c5b-4c1e-9f3a-1b2c3d4e5f60"))}, "0e9b1a7c-8c5b-4c1e-9f3a-1b2c3d4e5f60"},
		{"bytea", kBytea, target{}, []any{[]byte{0xde, 0xad}, "\xde\xad"}, "dead"},
		{"array", kArr, target{}, []any{"[1,null,3]", []any{int32(1), nil, int32(3)}, []*int32{ptr(int32(1)), nil, ptr(int32(3))}}, "[1,null,3]"},
		{"NULL array in clickhouse", kArr, old, []any{nil, []any{}}, "[]"},
		{"NULL", kText, target{}, []any{nil, (*string)(nil)}, "NULL"},
		{"char keeps padding", kStr, target{}, []any{"ab   ", str("ab   ")}, "ab   "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range tc.values {
				if got := norm(tc.kind, v, tc.tg); got != tc.want {
					t.Errorf("norm(%s, %T %v) = %q, want %q", tc.kind, v, v, got, tc.want)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestDiffReport: drift keeps every key, reports the first examples in
// order, and the columns that differ.
func TestDiffReport(t *testing.T) {
	var d diff
	d.add(Different, "3", []string{"name"})
	d.add(Missing, "9", nil)
	d.add(Different, "1", []string{"score", "name"})
	var more diff
	more.add(Missing, "10", nil)
	d.merge(more)
	got := d.drifts("clickhouse", 1)
	if len(got) != 2 || got[0].Kind != Missing || got[0].Rows != 2 || got[0].Examples[0] != "10" ||
		got[1].Kind != Different || got[1].Rows != 2 || len(got[1].Examples) != 1 || got[1].Columns[0] != "name" || got[1].Columns[1] != "score" {
		t.Errorf("drifts = %+v", got)
	}
}

// TestBuckets: equal sets sum equal in any order; a changed row changes
// exactly its bucket.
func TestBuckets(t *testing.T) {
	a, b := &sums{}, &sums{}
	for i := 0; i < 1000; i++ {
		k := norm(kInt, i, target{})
		a.add(hashKey(k), hashRow(k, []string{"x"}))
	}
	for i := 999; i >= 0; i-- {
		k := norm(kInt, i, target{})
		v := "x"
		if i == 500 {
			v = "y"
		}
		b.add(hashKey(k), hashRow(k, []string{v}))
	}
	dirty := map[uint64]bool{}
	differ(a, b, dirty)
	if len(dirty) != 1 || !dirty[hashKey("500")%buckets] {
		t.Errorf("dirty buckets %v, want only key 500's", dirty)
	}
}
