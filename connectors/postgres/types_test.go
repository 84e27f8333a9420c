package postgres

import (
	"testing"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors/conf"
)

// TestMapColumnNeverStops: every kind of type maps; an unknown one is
// carried as text and noted for a warning instead of failing.
func TestMapColumnNeverStops(t *testing.T) {
	types := map[uint32]pgType{
		1:  {name: "int4", typtype: 'b'},
		2:  {name: "point", typtype: 'b'},
		3:  {name: "int4range", typtype: 'r'},
		4:  {name: "mood", typtype: 'e'},
		5:  {name: "pair", typtype: 'c'},
		6:  {name: "posint", typtype: 'd', base: 1},
		7:  {name: "_point", typtype: 'b', elem: 2, isArray: true},
		8:  {name: "shiny_new", typtype: 'b'},
		9:  {name: "_shiny_new", typtype: 'b', elem: 8, isArray: true},
		10: {name: "geometry", typtype: 'b'},
		11: {name: "int4multirange", typtype: 'm'},
		12: {name: "tags", typtype: 'd', base: 7},
	}
	tn := conf.TableName{Schema: "public", Table: "t"}
	for _, tc := range []struct {
		oid        uint32
		kind, elem change.Kind
		warn       bool
	}{
		{1, change.Int32, "", false}, {2, change.String, "", false}, {3, change.String, "", false},
		{4, change.String, "", false}, {5, change.String, "", false}, {6, change.Int32, "", false},
		{7, change.Array, change.String, false}, {8, change.String, "", true}, {9, change.Array, change.String, true},
		{10, change.Bytes, "", false}, {11, change.String, "", false}, {12, change.Array, change.String, false},
	} {
		col := types[tc.oid].name
		c, err := mapColumn(types, tn, col, tc.oid, -1, map[string]bool{})
		if err != nil || c.Kind != tc.kind || c.Elem != tc.elem {
			t.Errorf("%s: %+v, %v; want %s %s", col, c, err, tc.kind, tc.elem)
		}
		_, warned := fallbacks.LoadAndDelete("public.t." + col)
		if warned != tc.warn {
			t.Errorf("%s: warning noted %v, want %v", col, warned, tc.warn)
		}
	}
	if _, err := mapColumn(types, tn, "x", 99, -1, nil); err == nil {
		t.Error("unknown oid: no error")
	}
}
