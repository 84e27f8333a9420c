package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
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

// Table modes.
const (
	ModeCDC         = "cdc"
	ModeFullRefresh = "full_refresh"
)

// Table is one captured table. In YAML it is either a bare name
// (public.orders) or an object with a name and options.
type Table struct {
	Name string `yaml:"name"`
	// Mode is cdc (snapshot, then every change from the WAL) or
	// full_refresh (a consistent copy replaces the previous one each run).
	Mode string `yaml:"mode"`
	// Snapshot is initial (copy existing rows first) or never (cdc only:
	// changes from now on).
	Snapshot string `yaml:"snapshot"`
	// ChunkRows is the rows per snapshot or backfill chunk; default the
	// source's snapshot_chunk_rows.
	ChunkRows int `yaml:"chunk_rows"`
	// Workers is how many connections copy snapshot chunks in parallel;
	// default the source's snapshot_workers.
	Workers int `yaml:"workers"`
	// Interval is how often a full_refresh table is copied again.
	Interval Duration `yaml:"interval"`
	// Schedule is a cron expression (minute hour day month weekday, UTC)
	// for full_refresh tables, instead of interval.
	Schedule string `yaml:"schedule"`
	// Retain keeps this table's change history in the lake for that long
	// (e.g. 400d): older day partitions are removed. Zero keeps it forever.
	Retain Duration `yaml:"retain"`
}

var tableKeys = map[string]bool{"name": true, "mode": true, "snapshot": true, "chunk_rows": true,
	"workers": true, "interval": true, "schedule": true, "retain": true}

// UnmarshalYAML accepts a bare table name or an object.
func (t *Table) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		t.Name = n.Value
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a table is a name (public.orders) or an object with name, mode, snapshot, chunk_rows, workers, interval, schedule, retain", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !tableKeys[k.Value] {
			return fmt.Errorf("line %d: %q is not a known key of a table (known: name, mode, snapshot, chunk_rows, workers, interval, schedule, retain)", k.Line, k.Value)
		}
	}
	type plain Table
	return n.Decode((*plain)(t))
}

// TableName parses the table's name (it was checked by Validate).
func (t Table) TableName() TableName {
	n, _ := ParseTableName(t.Name)
	return n
}

// Retention is how long the lake keeps each table's history, by table
// (schema.table, or an HTTP source's name): the tables' own retain keys,
// then the deprecated lake.retain map for tables that set none. Nil when
// nothing is retained for a limited time.
func (c *Config) Retention() map[string]Duration {
	out := map[string]Duration{}
	for _, src := range c.Sources {
		if src.Postgres != nil {
			for _, t := range src.Postgres.Tables {
				if t.Retain > 0 {
					out[t.TableName().String()] = t.Retain
				}
			}
		}
		if src.HTTP != nil && src.HTTP.Retain > 0 {
			out[src.Name] = src.HTTP.Retain
		}
	}
	if c.Lake != nil {
		for name, d := range c.Lake.Retain { // Validate checked the names
			if _, set := out[name]; !set {
				out[name] = d
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
