package lake

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/inlet-dev/inlet/change"
)

// Meta columns present in every lake table, after the source columns.
var metaColumns = []change.Column{
	{Name: "_op", Kind: change.String, SourceType: "inlet"},
	{Name: "_version", Kind: change.Int64, SourceType: "inlet"},
	{Name: "_ts", Kind: change.TimestampTZ, SourceType: "inlet"},
	{Name: "_kafka_partition", Kind: change.Int32, SourceType: "inlet"},
	{Name: "_kafka_offset", Kind: change.Int64, SourceType: "inlet"},
	{Name: "_unchanged", Kind: change.String, SourceType: "inlet"},
}

// nanColumn is added to tables that have a typed decimal column (numeric(p,s),
// p ≤ 38): a Parquet decimal cannot hold NaN, which Postgres allows there, so
// the value is NULL in its column and the column's name is listed in _nan
// (comma-separated). Unconstrained numerics are strings and keep "NaN",
// "Infinity" and "-Infinity" themselves.
var nanColumn = change.Column{Name: "_nan", Kind: change.String, SourceType: "inlet"}

// isMeta reports whether a lake column is Inlet's rather than the source's.
func isMeta(name string) bool {
	if name == nanColumn.Name {
		return true
	}
	for _, m := range metaColumns {
		if m.Name == name {
			return true
		}
	}
	return false
}

// typedDecimal reports whether c is stored as a Parquet decimal.
func typedDecimal(c change.Column) bool {
	return c.Kind == change.Decimal && c.Precision > 0 && c.Precision <= 38
}

// partitionColumnFor picks the Delta partition column (the commit day; it
// is not stored in the files): "dt", or "_dt" when the table has a source
// column named dt. The choice is kept in the table's metaData.
func partitionColumnFor(cols []change.Column) string {
	for _, c := range cols {
		if c.Name == "dt" {
			return "_dt"
		}
	}
	return "dt"
}

func deltaType(c change.Column) any {
	if c.Kind == change.Array {
		return map[string]any{"type": "array", "elementType": deltaType(change.Column{Kind: c.Elem}), "containsNull": true}
	}
	switch c.Kind {
	case change.Int16:
		return "short"
	case change.Int32:
		return "integer"
	case change.Int64:
		return "long"
	case change.Decimal:
		if c.Precision > 0 && c.Precision <= 38 {
			return fmt.Sprintf("decimal(%d,%d)", c.Precision, c.Scale)
		}
		return "string"
	case change.Float32:
		return "float"
	case change.Float64:
		return "double"
	case change.Bool:
		return "boolean"
	case change.Bytes:
		return "binary"
	case change.Date:
		return "date"
	case change.Timestamp:
		return "timestamp_ntz"
	case change.TimestampTZ:
		return "timestamp"
	}
	return "string"
}

type deltaField struct {
	Name     string         `json:"name"`
	Type     any            `json:"type"`
	Nullable bool           `json:"nullable"`
	Metadata map[string]any `json:"metadata"`
}

// schemaString renders the Delta schema of a table with the given columns
// (source columns then meta columns), plus the partition column.
// With a column mapping (nil: none), every field has its id and physical
// name.
func schemaString(cols []change.Column, part string, changes map[string][]typeChange, mapping *columnMapping) string {
	fields := make([]deltaField, 0, len(cols)+1)
	for _, c := range cols {
		md := map[string]any{}
		if c.SourceType != "" && c.SourceType != "inlet" {
			md["comment"] = "source type " + c.SourceType
		}
		if tc := changes[c.Name]; len(tc) > 0 {
			md["delta.typeChanges"] = tc
		}
		mapping.fieldMetadata(c.Name, md)
		fields = append(fields, deltaField{Name: c.Name, Type: deltaType(c), Nullable: true, Metadata: md})
	}
	pmd := map[string]any{}
	mapping.fieldMetadata(part, pmd)
	fields = append(fields, deltaField{Name: part, Type: "date", Nullable: true, Metadata: pmd})
	b, _ := json.Marshal(map[string]any{"type": "struct", "fields": fields})
	return string(b)
}

func needsNTZ(cols []change.Column) bool {
	for _, c := range cols {
		if c.Kind == change.Timestamp || (c.Kind == change.Array && c.Elem == change.Timestamp) {
			return true
		}
	}
	return false
}

// ErrIncompatible marks a batch the table cannot take as it is (a column
// type it cannot evolve to, a value its type cannot hold): retrying cannot
// help.
var ErrIncompatible = errors.New("incompatible with the lake table")

// typeChange is one entry of a field's delta.typeChanges metadata: the
// Delta typeWidening table feature lets readers read older files written
// with fromType as toType.
type typeChange struct {
	FromType string `json:"fromType"`
	ToType   string `json:"toType"`
}

// widensInLake reports whether the lake follows a type change in place,
// with Delta's typeWidening feature: the widenings of the sinks' policy
// (change.Widens) that Delta defines — integers, float to double, a
// decimal gaining integer digits and scale, date to timestamp_ntz — with
// the Parquet decimal kept typed (precision ≤ 38). Readers that support the
// feature read older files as the new type. A decimal becoming
// unconstrained (a string in the lake) is not one, nor is timestamp to
// timestamptz (Delta has no timestamp_ntz to timestamp widening).
func widensInLake(old, next change.Column) bool {
	if !change.Widens(old, next) {
		return false
	}
	if old.Kind == change.Decimal {
		return typedDecimal(old) && typedDecimal(next)
	}
	return true
}

// mergeColumns returns old plus the columns of next it lacks, with
// columns renamed (the same source Attnum under a new name: returned as
// new name → old name, the caller maps them) and integer columns widened
// in place (recorded in changes, by column); any other type change is
// ErrIncompatible, since old files could not be read as the new type.
//
// older (nil: none) reports whether next is older than the rename of a
// column (by Attnum): its old name is then neither followed nor added, and
// a narrower type of an older schema is not a change either (its values
// fit the wide column).
func mergeColumns(old, next []change.Column, changes map[string][]typeChange, older func(attnum int) bool) ([]change.Column, bool, map[string]string, error) {
	if older == nil {
		older = func(int) bool { return false }
	}
	out := append([]change.Column(nil), old...)
	changed := false
	var src []change.Column
	for _, c := range old {
		if !isMeta(c.Name) {
			src = append(src, c)
		}
	}
	renames := change.Renamed(src, next)
	for _, c := range next {
		if _, ok := renames[c.Name]; ok && older(c.Attnum) {
			delete(renames, c.Name)
		}
	}
	if len(renames) > 0 {
		from := map[string]string{}
		for to, f := range renames {
			from[f] = to
		}
		have := map[string]bool{}
		for _, c := range out {
			have[c.Name] = true
		}
		for to, f := range renames {
			if _, moving := from[to]; have[to] && !moving {
				return nil, false, nil, fmt.Errorf("%w: column %s was renamed to %s, a name the lake table still has for a column dropped earlier; rebuild the lake table (inlet backfill into a new table), or rename the column to a new name", ErrIncompatible, f, to)
			}
		}
		for i := range out {
			if to, ok := from[out[i].Name]; ok {
				if tc, ok := changes[out[i].Name]; ok {
					delete(changes, out[i].Name)
					changes[to] = tc
				}
				out[i].Name = to
			}
		}
		changed = true
	}
	at := map[string]int{}
	byNum := map[int]string{}
	for i, c := range out {
		at[c.Name] = i
		if c.Attnum != 0 {
			byNum[c.Attnum] = c.Name
		}
	}
	for _, c := range next {
		if name, ok := byNum[c.Attnum]; ok && c.Attnum != 0 && name != c.Name {
			// An older schema's name of a column the table has under
			// its newer one (a later column may have taken the old name).
			continue
		}
		i, ok := at[c.Name]
		if !ok {
			out = append(out, c)
			changed = true
			continue
		}
		o := out[i]
		if o.Attnum != c.Attnum && c.Attnum != 0 {
			out[i].Attnum = c.Attnum // learnt, or the column dropped and added again
			changed = true
		}
		if deltaTypeString(o) == deltaTypeString(c) {
			continue
		}
		if widensInLake(c, o) && !widensInLake(o, c) {
			continue // an older schema's narrower type: its values fit
		}
		if widensInLake(o, c) {
			changes[c.Name] = append(changes[c.Name], typeChange{FromType: deltaTypeString(o), ToType: deltaTypeString(c)})
			out[i] = c
			changed = true
			continue
		}
		return nil, false, nil, fmt.Errorf("%w: column %s changed type from %s to %s (Delta %s to %s), which Delta type widening does not allow; re-snapshot the table into a new lake table (inlet backfill), or rebuild the lake table", ErrIncompatible, c.Name, o.SourceType, c.SourceType, DeltaType(o), DeltaType(c))
	}
	if _, ok := at[nanColumn.Name]; !ok {
		for _, c := range out {
			if typedDecimal(c) {
				out = append(out, nanColumn)
				changed = true
				break
			}
		}
	}
	return out, changed, renames, nil
}

// typeChangesOf reads the delta.typeChanges of each field of a schema
// string.
func typeChangesOf(schema string) map[string][]typeChange {
	var st struct {
		Fields []struct {
			Name     string `json:"name"`
			Metadata struct {
				Changes []typeChange `json:"delta.typeChanges"`
			} `json:"metadata"`
		} `json:"fields"`
	}
	out := map[string][]typeChange{}
	if json.Unmarshal([]byte(schema), &st) != nil {
		return out
	}
	for _, f := range st.Fields {
		if len(f.Metadata.Changes) > 0 {
			out[f.Name] = f.Metadata.Changes
		}
	}
	return out
}

func deltaTypeString(c change.Column) string {
	b, _ := json.Marshal(deltaType(c))
	return string(b)
}

// DeltaType is the Delta type of a column, as docs/types.md shows it
// (array<T> for arrays).
func DeltaType(c change.Column) string {
	if c.Kind == change.Array {
		return "array<" + DeltaType(change.Column{Kind: c.Elem}) + ">"
	}
	s, _ := deltaType(c).(string)
	return s
}
