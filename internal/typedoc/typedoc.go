// Package typedoc renders the type table of docs/types.md from the mappings
// the code uses: the Postgres catalog's (connectors/postgres), the lake's
// Delta types and the ClickHouse mirror's column types per server version.
// Its test keeps the document in step.
package typedoc

import (
	"fmt"
	"strings"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/connectors/postgres"
	"github.com/inlet-dev/inlet/lake"
)

// Begin and End mark the generated part of docs/types.md.
const (
	Begin = "<!-- BEGIN GENERATED TYPE TABLE: go test ./internal/typedoc -update -->"
	End   = "<!-- END GENERATED TYPE TABLE -->"
)

// Versions are the ClickHouse releases the table shows.
var Versions = []struct {
	Label string
	V     clickhouse.Version
}{{"ClickHouse 18.16", clickhouse.Version{Major: 18, Minor: 16}}, {"ClickHouse ≥ 22.8", clickhouse.Version{Major: 22, Minor: 8}}}

// Table renders the generated part, markers included.
func Table() string {
	var b strings.Builder
	b.WriteString(Begin + "\n\n")
	b.WriteString("| Postgres | extension | kind (envelope) | lake (Delta) |")
	for _, v := range Versions {
		b.WriteString(" " + v.Label + " |")
	}
	b.WriteString(" notes |\n|---|---|---|---|")
	for range Versions {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	byName, byKind := postgres.TypeMappings()
	row := func(m postgres.TypeMapping) {
		ext := m.Extension
		if ext == "" {
			ext = "built in"
		}
		if m.Kind == "" { // domains: as their base
			fmt.Fprintf(&b, "| %s | | as the base type | as the base type |", m.SQL)
			for range Versions {
				b.WriteString(" as the base type |")
			}
			fmt.Fprintf(&b, " %s |\n", m.Note)
			return
		}
		c := change.Column{Kind: m.Kind, Elem: m.Elem}
		kind := string(m.Kind)
		if m.Kind == change.Array {
			c.Elem, kind = change.Int32, "array of the element's kind"
		}
		if m.Kind == change.Decimal && m.Type == "numeric" {
			fmt.Fprintf(&b, "| %s | %s | decimal | decimal(p,s) if p ≤ 38, else string |", m.SQL, ext)
			for _, v := range Versions {
				fmt.Fprintf(&b, " %s if p ≤ 38, else %s |",
					strings.Replace(clickhouse.ColumnType(change.Column{Kind: change.Decimal, Precision: 10, Scale: 2}, v.V), "10, 2", "p, s", 1), clickhouse.ColumnType(change.Column{Kind: change.Decimal}, v.V))
			}
			fmt.Fprintf(&b, " %s |\n", m.Note)
			return
		}
		lk := lake.DeltaType(c)
		if m.Kind == change.Array {
			lk = "array<element's type>"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |", m.SQL, ext, kind, lk)
		for _, v := range Versions {
			t := clickhouse.ColumnType(c, v.V)
			if m.Kind == change.Array {
				t = "Array(Nullable(element's type))"
			}
			fmt.Fprintf(&b, " %s |", t)
		}
		fmt.Fprintf(&b, " %s |\n", strings.ReplaceAll(m.Note, "|", `\|`))
	}
	for _, m := range byName {
		row(m)
	}
	for _, m := range byKind {
		if m.Kind != "" || m.Note != "" {
			mm := m
			mm.Extension = "any"
			row(mm)
		}
	}
	b.WriteString("\n" + End)
	return b.String()
}
