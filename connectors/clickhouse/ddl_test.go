package clickhouse

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/inlet-dev/inlet/change"
)

var update = flag.Bool("update", false, "rewrite golden files")

var ddlSchema = &change.Schema{Namespace: "sales", Table: "orders", Columns: []change.Column{
	{Name: "id", Kind: change.Int64, Key: true, SourceType: "int8"},
	{Name: "amount", Kind: change.Decimal, Precision: 12, Scale: 2, SourceType: "numeric(12,2)"},
	{Name: "note", Kind: change.String, SourceType: "text"},
	{Name: "paid", Kind: change.Bool, SourceType: "bool"},
	{Name: "day", Kind: change.Date, SourceType: "date"},
	{Name: "at", Kind: change.TimestampTZ, SourceType: "timestamptz"},
	{Name: "ref", Kind: change.UUID, SourceType: "uuid"},
	{Name: "tags", Kind: change.Array, Elem: change.String, SourceType: "text[]"},
}}

// TestDDLGolden pins the DDL for the ClickHouse in CI (18.16) and a current
// release (24.8); run with -update after an intended change.
func TestDDLGolden(t *testing.T) {
	for _, v := range []struct {
		name string
		ver  Version
	}{{"18.16", Version{18, 16}}, {"24.8", Version{24, 8}}} {
		got := createTableSQL("shop", TableName(ddlSchema), ddlSchema.Columns, v.ver, false) + ";\n\n" + createViewSQL("shop", TableName(ddlSchema), ddlSchema.Columns) + ";\n"
		path := filepath.Join("testdata", "ddl-"+v.name+".sql")
		if *update {
			os.WriteFile(path, []byte(got), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s DDL changed:\n%s\nwant:\n%s", v.name, got, want)
		}
	}
}

// TestSummaryDDLGolden pins the summary DDL for 18.16 and 24.8, with the
// column types each server infers for the same definition (18.16 has no
// Date32 or DateTime64, so toDate gives Date on both).
func TestSummaryDDLGolden(t *testing.T) {
	cfg := Summary{Name: "orders_daily", From: "public.orders", Refresh: "incremental",
		Dimensions: []string{"toDate(created_at) AS day", "status"},
		Measures:   []string{"count() AS orders", "sum(amount) AS revenue", "uniqExact(customer_id) AS customers"},
		Where:      "status != 'test'", PartitionBy: "day"}
	for _, v := range []struct {
		name  string
		ver   Version
		types []string
	}{
		{"18.16", Version{18, 16}, []string{"Nullable(Date)", "Nullable(String)", "UInt64", "Nullable(Decimal(38, 2))", "UInt64"}},
		{"24.8", Version{24, 8}, []string{"Nullable(Date)", "Nullable(String)", "UInt64", "Nullable(Decimal(38, 2))", "UInt64"}},
	} {
		d := newSummaryDef(cfg, "orders")
		for i, typ := range v.types {
			c := sumColumn{typ: typ}
			if i < len(d.dims) {
				c.name, c.expr = d.dims[i].name, d.dims[i].expr
			} else {
				c.name, c.expr, c.measure = d.measures[i-len(d.dims)].name, d.measures[i-len(d.dims)].expr, true
			}
			d.cols = append(d.cols, c)
		}
		d.partKey, d.partType = "assumeNotNull(day)", "Date"
		got := createSummarySQL("shop", cfg.Name, d, v.ver) + ";\n"
		path := filepath.Join("testdata", "summary-"+v.name+".sql")
		if *update {
			os.WriteFile(path, []byte(got), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s summary DDL changed:\n%s\nwant:\n%s", v.name, got, want)
		}
		if h := d.hash(); len(h) != 16 {
			t.Errorf("definition hash %q", h)
		}
	}
}

// TestMirrorOf: engine table names keep the source's case and spaces; a
// bare stream name (an HTTP source) is in public. Regression: a marker-only
// batch of an HTTP full refresh looked for mirror "t_full_t_full".
func TestMirrorOf(t *testing.T) {
	for in, want := range map[string]string{
		"public.orders":        "orders",
		"sales.customers":      "sales_customers",
		"Odd Schema.Ref Täble": "Odd Schema_Ref Täble",
		"t_full":               "t_full",
	} {
		if got := mirrorOf(in); got != want {
			t.Errorf("mirrorOf(%q) = %q, want %q", in, got, want)
		}
	}
}
