package conf

import (
	"fmt"
	"strings"
)

// TableName is a schema-qualified Postgres table name.
type TableName struct{ Schema, Table string }

// String is the dotted name as the user writes it (schema.table).
func (t TableName) String() string { return t.Schema + "." + t.Table }

// Quoted is the name quoted for SQL.
func (t TableName) Quoted() string { return QuoteIdent(t.Schema) + "." + QuoteIdent(t.Table) }

// QuoteIdent quotes a Postgres identifier.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// ParseTableName parses schema.table, where either part may be "double
// quoted" to keep case, dots or spaces. A bare name means schema public.
func ParseTableName(s string) (TableName, error) {
	parts, err := splitIdent(s)
	if err != nil {
		return TableName{}, err
	}
	switch len(parts) {
	case 1:
		return TableName{"public", parts[0]}, nil
	case 2:
		return TableName{parts[0], parts[1]}, nil
	}
	return TableName{}, fmt.Errorf("%q: write tables as schema.table (quote parts with \" to keep dots or upper case)", s)
}

func splitIdent(s string) ([]string, error) {
	var parts []string
	for i := 0; ; {
		if i >= len(s) {
			return nil, fmt.Errorf("%q: empty name part; write tables as schema.table", s)
		}
		var part string
		if s[i] == '"' {
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("%q: unterminated quote", s)
				}
				if s[j] == '"' {
					if j+1 < len(s) && s[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			part = b.String()
			i = j + 1
		} else {
			j := i
			for j < len(s) && s[j] != '.' {
				c := s[j]
				if c == '"' || c == ' ' || c == '\t' {
					return nil, fmt.Errorf("%q: %q is not allowed in an unquoted name; quote the part, e.g. \"My Table\"", s, string(c))
				}
				j++
			}
			part = strings.ToLower(s[i:j])
			i = j
		}
		if part == "" {
			return nil, fmt.Errorf("%q: empty name part; write tables as schema.table", s)
		}
		parts = append(parts, part)
		if i == len(s) {
			return parts, nil
		}
		if s[i] != '.' {
			return nil, fmt.Errorf("%q: expected . after a quoted part", s)
		}
		i++
	}
}
