package clickhouse

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/inlet-dev/inlet/change"
)

// Version is a ClickHouse server version.
type Version struct{ Major, Minor int }

// ParseVersion parses "18.16.1" or "24.8.4.13".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("clickhouse version %q not understood", s)
	}
	maj, err1 := strconv.Atoi(parts[0])
	min, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return Version{}, fmt.Errorf("clickhouse version %q not understood", s)
	}
	return Version{maj, min}, nil
}

// AtLeast reports whether v >= maj.min.
func (v Version) AtLeast(maj, min int) bool {
	return v.Major > maj || (v.Major == maj && v.Minor >= min)
}

// Features of a server that change the DDL.
func (v Version) hasDateTime64() bool { return v.AtLeast(20, 1) }
func (v Version) hasBool() bool       { return v.AtLeast(21, 12) }
func (v Version) hasDate32() bool     { return v.AtLeast(21, 9) }

// hasRenameColumn: ALTER TABLE … RENAME COLUMN (20.4).
func (v Version) hasRenameColumn() bool { return v.AtLeast(20, 4) }

// columnType returns the ClickHouse type of a column. Key columns are not
// Nullable; arrays never are (ClickHouse has no Nullable(Array)).
func columnType(c change.Column, v Version) string {
	if c.Kind == change.Array {
		return "Array(Nullable(" + scalarType(c.Elem, 0, 0, v) + "))"
	}
	t := scalarType(c.Kind, c.Precision, c.Scale, v)
	if c.Key {
		return t
	}
	return "Nullable(" + t + ")"
}

func scalarType(k change.Kind, precision, scale int, v Version) string {
	switch k {
	case change.Int16:
		return "Int16"
	case change.Int32:
		return "Int32"
	case change.Int64:
		return "Int64"
	case change.Decimal:
		if precision > 0 && precision <= 38 {
			return fmt.Sprintf("Decimal(%d, %d)", precision, scale)
		}
		return "String"
	case change.Float32:
		return "Float32"
	case change.Float64:
		return "Float64"
	case change.Bool:
		if v.hasBool() {
			return "Bool"
		}
		return "UInt8"
	case change.UUID:
		return "UUID"
	case change.Date:
		if v.hasDate32() {
			return "Date32"
		}
		return "Date"
	case change.Timestamp, change.TimestampTZ:
		if v.hasDateTime64() {
			return "DateTime64(6, 'UTC')"
		}
		return "DateTime('UTC')"
	}
	return "String"
}

// TableName is the mirror table of a source table: the table name in the
// public schema, <schema>_<table> elsewhere.
func TableName(s *change.Schema) string {
	if s.Namespace == "public" {
		return s.Table
	}
	return s.Namespace + "_" + s.Table
}

// mirrorOf is the mirror table of an engine table name: "schema.table"
// as the source names it (case and spaces kept, not SQL-quoted), or a bare
// stream name (an HTTP source), which lives in public like its schema says.
func mirrorOf(table string) string {
	schema, tbl, ok := strings.Cut(table, ".")
	if !ok {
		schema, tbl = "public", table
	}
	return TableName(&change.Schema{Namespace: schema, Table: tbl})
}

func quote(id string) string {
	return "`" + strings.ReplaceAll(strings.ReplaceAll(id, `\`, `\\`), "`", "\\`") + "`"
}

func quoteString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

// createTableSQL is the mirror table DDL. A full_refresh table holds one
// copy at a time, ordered by version and Kafka offset (rows need no key).
func createTableSQL(db, name string, cols []change.Column, v Version, refresh bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s.%s (\n", quote(db), quote(name))
	var keys []string
	for _, c := range cols {
		fmt.Fprintf(&b, "  %s %s COMMENT %s,\n", quote(c.Name), columnType(c, v), quoteString(attnumComment(c)))
		if c.Key {
			keys = append(keys, quote(c.Name))
		}
	}
	if refresh {
		b.WriteString("  `_version` UInt64 COMMENT 'WAL LSN when the full refresh that copied the row started',\n")
		b.WriteString("  `_row` UInt64 COMMENT 'Kafka offset of the row in its change topic',\n")
	} else {
		b.WriteString("  `_version` UInt64 COMMENT 'commit LSN of the change',\n")
	}
	b.WriteString("  `_deleted` UInt8 COMMENT '1 when the row was deleted upstream',\n")
	b.WriteString("  `_synced_at` DateTime COMMENT 'when Inlet wrote the row'\n")
	if refresh {
		b.WriteString(") ENGINE = ReplacingMergeTree(`_version`)\nORDER BY (`_version`, `_row`)")
	} else {
		fmt.Fprintf(&b, ") ENGINE = ReplacingMergeTree(`_version`)\nORDER BY (%s)", strings.Join(keys, ", "))
	}
	return b.String()
}

// viewName is the name of the view of current rows.
func viewName(name string) string { return name + "_current" }

func createViewSQL(db, name string, cols []change.Column) string {
	names := make([]string, 0, len(cols)+2)
	for _, c := range cols {
		names = append(names, quote(c.Name))
	}
	names = append(names, "`_version`", "`_synced_at`")
	return fmt.Sprintf("CREATE VIEW IF NOT EXISTS %s.%s AS SELECT %s FROM %s.%s FINAL WHERE `_deleted` = 0",
		quote(db), quote(viewName(name)), strings.Join(names, ", "), quote(db), quote(name))
}

// ColumnType is the mirror column type of a non-key column on server v, as
// docs/types.md shows it.
func ColumnType(c change.Column, v Version) string { return columnType(c, v) }
