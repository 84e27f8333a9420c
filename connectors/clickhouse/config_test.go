package clickhouse

import "testing"

func TestSplitAlias(t *testing.T) {
	for _, tc := range []struct {
		in, expr, name string
		ok             bool
	}{
		{"status", "status", "status", true},
		{"toDate(created_at) AS day", "toDate(created_at)", "day", true},
		{"toDate(created_at) as `the day`", "toDate(created_at)", "the day", true},
		{"count() AS orders", "count()", "orders", true},
		{"if(x = ' AS y', 1, 2) AS z", "if(x = ' AS y', 1, 2)", "z", true},
		{"cast(x AS String)", "cast(x AS String)", "", false},
		{"toDate(created_at)", "toDate(created_at)", "", false},
		{"sum(amount)", "sum(amount)", "", false},
	} {
		expr, name, ok := SplitAlias(tc.in)
		if expr != tc.expr || name != tc.name || ok != tc.ok {
			t.Errorf("SplitAlias(%q) = %q, %q, %v; want %q, %q, %v", tc.in, expr, name, ok, tc.expr, tc.name, tc.ok)
		}
	}
}
