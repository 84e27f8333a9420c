package clickhouse

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/inlet-dev/inlet/internal/change"
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
