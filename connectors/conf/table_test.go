package conf

import "testing"

func TestParseTableName(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    TableName
		wantErr bool
	}{
		{"public.orders", TableName{"public", "orders"}, false},
		{"orders", TableName{"public", "orders"}, false},
		{"Sales.Orders", TableName{"sales", "orders"}, false},
		{`"Sales"."Order Items"`, TableName{"Sales", "Order Items"}, false},
		{`public."we""ird.name"`, TableName{"public", `we"ird.name`}, false},
		{`"Ünïcode"."表"`, TableName{"Ünïcode", "表"}, false},
		{"a.b.c", TableName{}, true},
		{"public.", TableName{}, true},
		{"public.my table", TableName{}, true},
		{`"unterminated`, TableName{}, true},
	} {
		got, err := ParseTableName(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseTableName(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
