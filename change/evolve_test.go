package change

import (
	"reflect"
	"testing"
)

func TestWidens(t *testing.T) {
	c := func(k Kind, p, s int) Column { return Column{Name: "v", Kind: k, Precision: p, Scale: s} }
	for _, tc := range []struct {
		name      string
		old, next Column
		want      bool
	}{
		{"int to bigint", c(Int32, 0, 0), c(Int64, 0, 0), true},
		{"smallint to int", c(Int16, 0, 0), c(Int32, 0, 0), true},
		{"bigint to int", c(Int64, 0, 0), c(Int32, 0, 0), false},
		{"real to double", c(Float32, 0, 0), c(Float64, 0, 0), true},
		{"numeric precision up", c(Decimal, 10, 2), c(Decimal, 12, 2), true},
		{"numeric scale up, digits kept", c(Decimal, 10, 2), c(Decimal, 12, 4), true},
		{"numeric scale up, digits lost", c(Decimal, 10, 2), c(Decimal, 10, 4), false},
		{"numeric to unconstrained", c(Decimal, 10, 2), c(Decimal, 0, 0), true},
		{"unconstrained to numeric", c(Decimal, 0, 0), c(Decimal, 10, 2), false},
		{"date to timestamp", c(Date, 0, 0), c(Timestamp, 0, 0), true},
		{"text to int", c(String, 0, 0), c(Int32, 0, 0), false},
		{"int to text", c(Int32, 0, 0), c(String, 0, 0), false},
		{"key column", Column{Name: "id", Kind: Int32, Key: true}, Column{Name: "id", Kind: Int64, Key: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Widens(tc.old, tc.next); got != tc.want {
				t.Fatalf("Widens = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRenamed(t *testing.T) {
	col := func(name string, n int) Column { return Column{Name: name, Kind: String, Attnum: n} }
	for _, tc := range []struct {
		name      string
		old, next []Column
		want      map[string]string
	}{
		{"none", []Column{col("a", 1)}, []Column{col("a", 1), col("b", 2)}, nil},
		{"rename", []Column{col("a", 1), col("b", 2)}, []Column{col("a", 1), col("c", 2)}, map[string]string{"c": "b"}},
		{"drop and add", []Column{col("a", 1), col("b", 2)}, []Column{col("a", 1), col("c", 3)}, nil},
		{"chain", []Column{col("a", 1), col("b", 2)}, []Column{col("b", 1), col("c", 2)}, map[string]string{"b": "a", "c": "b"}},
		{"no attnums", []Column{col("a", 0)}, []Column{col("b", 0)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Renamed(tc.old, tc.next); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Renamed = %v, want %v", got, tc.want)
			}
		})
	}
}
