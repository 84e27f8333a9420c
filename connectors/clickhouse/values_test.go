package clickhouse

import (
	"strings"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/change"
)

func TestOutOfRangePolicies(t *testing.T) {
	old, cur := Version{18, 16}, Version{24, 8}
	d := func(y, m, dd int) time.Time { return time.Date(y, time.Month(m), dd, 0, 0, 0, 0, time.UTC) }
	date := change.Column{Name: "d", Kind: change.Date}
	key := change.Column{Name: "k", Kind: change.Date, Key: true}
	num := change.Column{Name: "n", Kind: change.Decimal, Precision: 10, Scale: 2}
	for _, tc := range []struct {
		name   string
		c      change.Column
		v      any
		ver    Version
		policy string
		want   any // time.Time, nil, or "error"
		issue  bool
	}{
		{"in range", date, d(2024, 1, 2), old, OutOfRangeFail, d(2024, 1, 2), false},
		{"9999 clamped on 18.16", date, d(9999, 12, 31), old, OutOfRangeClamp, d(2105, 12, 31), true},
		{"1969 clamped on 18.16", date, d(1969, 12, 31), old, OutOfRangeClamp, d(1970, 1, 1), true},
		{"BC clamped on 24.8", date, d(-43, 3, 15), cur, OutOfRangeClamp, d(1900, 1, 1), true},
		{"infinity clamped", date, change.PosInfinity, cur, OutOfRangeClamp, d(2299, 12, 31), true},
		{"-infinity null", date, change.NegInfinity, old, OutOfRangeNull, nil, true},
		{"null policy clamps keys", key, change.NegInfinity, old, OutOfRangeNull, d(1970, 1, 1), true},
		{"fail", date, d(9999, 12, 31), old, OutOfRangeFail, "error", true},
		{"NaN decimal", num, "NaN", old, OutOfRangeClamp, nil, true},
	} {
		got, issue, err := convert(tc.c, tc.v, tc.ver, tc.policy)
		if (issue != "") != tc.issue {
			t.Errorf("%s: issue %q", tc.name, issue)
		}
		switch w := tc.want.(type) {
		case string:
			if err == nil || !strings.Contains(err.Error(), "out_of_range") {
				t.Errorf("%s: err %v, want the policy named", tc.name, err)
			}
		case nil:
			if err != nil || got != nil {
				t.Errorf("%s: got %v, %v; want NULL", tc.name, got, err)
			}
		case time.Time:
			if g, ok := got.(time.Time); err != nil || !ok || !g.Equal(w) {
				t.Errorf("%s: got %v, %v; want %v", tc.name, got, err, w)
			}
		}
	}
	// Arrays: each element by the same rule.
	got, issue, err := convert(change.Column{Kind: change.Array, Elem: change.Date}, []any{d(2000, 1, 1), nil, change.PosInfinity}, old, OutOfRangeNull)
	items := got.([]*time.Time)
	if err != nil || issue == "" || len(items) != 3 || items[0] == nil || items[1] != nil || items[2] != nil {
		t.Errorf("array under null: %v %q %v", got, issue, err)
	}
}
