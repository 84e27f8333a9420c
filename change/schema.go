// Package change defines what flows through Kafka: the versioned change
// envelope (JSON, or the binary layout of binary.go; Decode reads both,
// told apart by the first byte), and the table schema every change refers
// to by fingerprint.
package change

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Kind is the logical type of a column, independent of source and sink.
type Kind string

// Kinds. Each has one JSON form in the envelope and one binary form (see
// docs/envelope.md).
const (
	Int16       Kind = "int16"       // JSON number
	Int32       Kind = "int32"       // JSON number
	Int64       Kind = "int64"       // JSON number
	Decimal     Kind = "decimal"     // JSON string, exact ("12.3400", "NaN")
	Float32     Kind = "float32"     // JSON number, or "NaN", "Infinity", "-Infinity"
	Float64     Kind = "float64"     // as Float32
	Bool        Kind = "bool"        // JSON true/false
	String      Kind = "string"      // JSON string (text, varchar, char, enums, text-carried types)
	UUID        Kind = "uuid"        // JSON string, canonical form
	JSON        Kind = "json"        // JSON string holding the JSON document text
	Bytes       Kind = "bytes"       // JSON string, standard base64
	Date        Kind = "date"        // JSON string "2006-01-02"; also "infinity", "-infinity", "-0043-03-15" (see ParseTime)
	Timestamp   Kind = "timestamp"   // JSON string "2006-01-02T15:04:05.999999" (no zone); specials as Date
	TimestampTZ Kind = "timestamptz" // JSON string "2006-01-02T15:04:05.999999Z" (UTC); specials as Date
	Array       Kind = "array"       // JSON array of Elem values (null elements allowed)
)

// Column is one column of a table.
type Column struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Elem is the element kind of an Array column.
	Elem Kind `json:"elem,omitempty"`
	// Precision and Scale of a Decimal; Precision 0 means unconstrained.
	Precision int `json:"precision,omitempty"`
	Scale     int `json:"scale,omitempty"`
	// SourceType is the type as the source names it (e.g. "numeric(12,2)").
	SourceType string `json:"source_type"`
	Key        bool   `json:"key,omitempty"`
	// SourceName is the column's name in the source when Inlet renamed it
	// (a name Inlet reserves for its own columns: see RenameReserved).
	SourceName string `json:"source_name,omitempty"`
	// Attnum identifies the column in its source table for as long as it
	// exists, across renames (Postgres pg_attribute.attnum); 0 when the
	// source does not say. A column of a later schema with an earlier
	// column's Attnum under another name is that column renamed: see
	// Renamed. It is not part of the fingerprint (a rename changes the
	// name, which is).
	Attnum int `json:"attnum,omitempty"`
}

// Renamed returns, for each column of next that is a column of old under
// another name (the same non-zero Attnum), the old name, keyed by the new
// name. A rename may take a name another column just gave up (a → b,
// b → c): sinks apply them in an order that frees each name first.
func Renamed(old, next []Column) map[string]string {
	byNum := map[int]string{}
	for _, c := range old {
		if c.Attnum != 0 {
			byNum[c.Attnum] = c.Name
		}
	}
	var out map[string]string
	for _, c := range next {
		if from, ok := byNum[c.Attnum]; ok && c.Attnum != 0 && from != c.Name {
			if out == nil {
				out = map[string]string{}
			}
			out[c.Name] = from
		}
	}
	return out
}

// SchemaFormatVersion is the version of the persisted schema record.
const SchemaFormatVersion = 1

// Schema describes the rows of one topic at one point in time.
type Schema struct {
	FormatVersion int      `json:"format_version"`
	Topic         string   `json:"topic"`
	Connector     string   `json:"connector"` // "postgres"
	Pipeline      string   `json:"pipeline"`
	Database      string   `json:"db,omitempty"`
	Namespace     string   `json:"schema"` // Postgres schema
	Table         string   `json:"table"`
	Columns       []Column `json:"columns"`
	Fingerprint   string   `json:"fingerprint"`
}

// Name is "schema.table", the name used in config, the lake and checkpoints.
func (s *Schema) Name() string { return s.Namespace + "." + s.Table }

// Seal computes the fingerprint from the columns; call it once built.
func (s *Schema) Seal() {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", s.Namespace, s.Table)
	for _, c := range s.Columns {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00%d\x00%v\x00%s\x00", c.Name, c.Kind, c.Elem, c.Precision, c.Scale, c.Key, c.SourceType)
		if c.SourceName != "" { // only then: older fingerprints stay valid
			fmt.Fprintf(h, "src=%s\x00", c.SourceName)
		}
	}
	s.Fingerprint = hex.EncodeToString(h.Sum(nil)[:8])
	s.FormatVersion = SchemaFormatVersion
}

// KeyColumns returns the indexes of the primary-key columns.
func (s *Schema) KeyColumns() []int {
	var out []int
	for i, c := range s.Columns {
		if c.Key {
			out = append(out, i)
		}
	}
	return out
}

// DecodeSchema parses a schema record and checks its version.
func DecodeSchema(data []byte) (*Schema, error) {
	var s Schema
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode schema record: %w", err)
	}
	if s.FormatVersion != SchemaFormatVersion {
		return nil, fmt.Errorf("schema record for %s has format version %d; this Inlet reads %d (upgrade Inlet)", s.Topic, s.FormatVersion, SchemaFormatVersion)
	}
	return &s, nil
}

// TopicName returns the change topic of a table: <pipeline>.<schema>.<table>,
// with characters Kafka does not allow replaced by '_'.
func TopicName(pipeline, schema, table string) string {
	return pipeline + "." + sanitize(schema) + "." + sanitize(table)
}

// SchemasTopic holds schema records, keyed by topic/fingerprint (compacted).
func SchemasTopic(pipeline string) string { return pipeline + "._inlet_schemas" }

// OffsetsTopic holds source positions, keyed by source name (compacted).
func OffsetsTopic(pipeline string) string { return pipeline + "._inlet_offsets" }

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
}

// ReservedNames are the column names Inlet's sinks add to every table (the
// lake's meta columns, the ClickHouse mirror's bookkeeping columns). A source
// column may not take one of them: see RenameReserved.
var ReservedNames = map[string]bool{
	"_op": true, "_version": true, "_ts": true, "_kafka_partition": true,
	"_kafka_offset": true, "_unchanged": true, "_nan": true,
	"_deleted": true, "_synced_at": true, "_row": true,
}

// RenameReserved renames the source columns whose names Inlet reserves, in
// place: a trailing underscore is added until the name is neither reserved
// nor taken by another column (`_version` → `_version_`). The source's own
// name is kept in SourceName. Sources call it before Seal, so Kafka, the
// lake and ClickHouse all see the same name.
func RenameReserved(cols []Column) {
	taken := map[string]bool{}
	for _, c := range cols {
		taken[c.Name] = true
	}
	for i := range cols {
		if !ReservedNames[cols[i].Name] {
			continue
		}
		name := cols[i].Name
		for ReservedNames[name] || taken[name] {
			name += "_"
		}
		taken[name] = true
		cols[i].SourceName, cols[i].Name = cols[i].Name, name
	}
}
