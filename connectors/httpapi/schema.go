package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/change"
)

// Schema inference, in order:
//  1. a field declared in the source's schema: has that type;
//  2. the cursor field with format rfc3339 is a timestamptz;
//  3. otherwise the non-null values of the first page that has the field
//     decide: strings make a string, numbers without fraction or exponent
//     an int64, numbers with one (even mixed with integers) a float64,
//     true/false a bool, objects or arrays a json document; a field whose
//     values are of several of these kinds is a string (JSON text).
//
// Primary-key fields come first, the others in name order. A field first
// seen in a later page adds a column (a new schema version, which the
// sinks add as a column); a field whose values are all null so far has
// none. A value that does not fit its column (a fraction in an int64
// field, text in a bool field) stops the page with an error naming the
// field and the fix (declare its type).

type fieldSchema struct {
	cols    []change.Column
	index   map[string]int
	sc      *change.Schema
	pk      []string
	decl    map[string]string
	cursor  string
	cformat string
}

var decimalRe = regexp.MustCompile(`^decimal\(([0-9]+),\s*([0-9]+)\)$`)

func declaredColumn(name, typ string) change.Column {
	c := change.Column{Name: name, SourceType: "declared " + typ}
	switch t := strings.TrimSpace(typ); {
	case t == "int":
		c.Kind = change.Int64
	case t == "float":
		c.Kind = change.Float64
	case t == "bool":
		c.Kind = change.Bool
	case t == "timestamp":
		c.Kind = change.TimestampTZ
	case t == "date":
		c.Kind = change.Date
	case t == "json":
		c.Kind = change.JSON
	case decimalRe.MatchString(t):
		m := decimalRe.FindStringSubmatch(t)
		c.Kind = change.Decimal
		c.Precision, _ = strconv.Atoi(m[1])
		c.Scale, _ = strconv.Atoi(m[2])
	default:
		c.Kind = change.String
	}
	return c
}

func inferColumn(name string, raw json.RawMessage) (change.Column, bool) {
	c := change.Column{Name: name}
	switch raw[0] {
	case 'n':
		return c, false
	case '"':
		c.Kind, c.SourceType = change.String, "json string"
	case 't', 'f':
		c.Kind, c.SourceType = change.Bool, "json boolean"
	case '{', '[':
		c.Kind, c.SourceType = change.JSON, "json document"
	default:
		if bytes.ContainsAny(raw, ".eE") {
			c.Kind, c.SourceType = change.Float64, "json number"
		} else {
			c.Kind, c.SourceType = change.Int64, "json integer"
		}
	}
	return c, true
}

// observePage adds columns for the fields of a page not seen before,
// inferring each from all its values in the page; it reports whether the
// schema changed.
func (fs *fieldSchema) observePage(recs []map[string]json.RawMessage, pipeline, source, db string) bool {
	if len(recs) == 0 {
		return false
	}
	kinds := map[string]change.Column{}
	var names []string
	for _, rec := range recs {
		for k, raw := range rec {
			if _, known := fs.index[k]; known {
				continue
			}
			c, ok := inferColumn(k, raw)
			if !ok {
				continue
			}
			prev, seen := kinds[k]
			switch {
			case !seen:
				names = append(names, k)
				kinds[k] = c
			case prev.Kind == c.Kind:
			case (prev.Kind == change.Int64 && c.Kind == change.Float64) || (prev.Kind == change.Float64 && c.Kind == change.Int64):
				kinds[k] = change.Column{Name: k, Kind: change.Float64, SourceType: "json number"}
			default:
				kinds[k] = change.Column{Name: k, Kind: change.String, SourceType: "json (mixed kinds)"}
			}
		}
	}
	sort.Strings(names)
	return fs.observe(recs[0], names, kinds, pipeline, source, db)
}

// observe adds columns for the names given (kinds: inferred), and on the
// first call the primary key; it reports whether the schema changed.
func (fs *fieldSchema) observe(rec map[string]json.RawMessage, order []string, kinds map[string]change.Column, pipeline, source, db string) bool {
	changed := false
	add := func(c change.Column) {
		fs.index[c.Name] = len(fs.cols)
		fs.cols = append(fs.cols, c)
		changed = true
	}
	if fs.index == nil {
		fs.index = map[string]int{}
		for _, k := range fs.pk {
			var c change.Column
			if t, ok := fs.decl[k]; ok {
				c = declaredColumn(k, t)
			} else if raw, ok := rec[k]; ok {
				c, _ = inferColumn(k, raw)
			}
			if c.Kind == "" {
				c = change.Column{Name: k, Kind: change.String, SourceType: "json string"}
			}
			c.Key = true
			add(c)
		}
	}
	for _, k := range order {
		if _, ok := fs.index[k]; ok {
			continue
		}
		var c change.Column
		switch t, declared := fs.decl[k]; {
		case declared:
			c = declaredColumn(k, t)
		case k == fs.cursor && fs.cformat == CursorRFC3339:
			c = change.Column{Name: k, Kind: change.TimestampTZ, SourceType: "rfc3339 cursor"}
		default:
			var ok bool
			if c, ok = kinds[k]; !ok {
				continue
			}
		}
		add(c)
	}
	if changed || fs.sc == nil {
		sc := &change.Schema{Topic: pipeline + "." + source, Connector: "http",
			Pipeline: pipeline, Database: db, Namespace: "public", Table: source, Columns: append([]change.Column(nil), fs.cols...)}
		// Fields named like Inlet's own columns get a trailing underscore
		// in the schema and the envelope (fs.cols keeps the field names).
		change.RenameReserved(sc.Columns)
		sc.Seal()
		fs.sc = sc
		return true
	}
	return false
}

// appendValue appends the envelope form of raw for column c.
func appendValue(buf []byte, c *change.Column, raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 || raw[0] == 'n' {
		return append(buf, "null"...), nil
	}
	bad := func(what string) ([]byte, error) {
		fit := "string"
		switch {
		case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
			fit = "float"
		case raw[0] == '{' || raw[0] == '[':
			fit = "json"
		}
		return buf, fmt.Errorf("field %q is %s (%s, from earlier records) but got %s: %s; declare its type in the source's schema (schema: {%s: %s})", c.Name, c.Kind, c.SourceType, sample(raw), what, c.Name, fit)
	}
	switch c.Kind {
	case change.Int64:
		if raw[0] == '"' || raw[0] == 't' || raw[0] == 'f' || raw[0] == '{' || raw[0] == '[' || bytes.ContainsAny(raw, ".eE") {
			if c.SourceType == "declared int" && raw[0] == '"' {
				var s string
				json.Unmarshal(raw, &s)
				if _, err := strconv.ParseInt(s, 10, 64); err == nil {
					return append(buf, s...), nil
				}
			}
			return bad("not an integer")
		}
		if _, err := strconv.ParseInt(string(raw), 10, 64); err != nil {
			return bad("out of range")
		}
		return append(buf, raw...), nil
	case change.Float64:
		if raw[0] == '"' || raw[0] == 't' || raw[0] == 'f' || raw[0] == '{' || raw[0] == '[' {
			return bad("not a number")
		}
		return append(buf, raw...), nil
	case change.Decimal:
		s := string(raw)
		if raw[0] == '"' {
			json.Unmarshal(raw, &s)
		}
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return bad("not a decimal")
		}
		return appendString(buf, s), nil
	case change.Bool:
		if !bytes.Equal(raw, []byte("true")) && !bytes.Equal(raw, []byte("false")) {
			return bad("not a boolean")
		}
		return append(buf, raw...), nil
	case change.JSON:
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return bad("not JSON")
		}
		return appendString(buf, b.String()), nil
	case change.TimestampTZ, change.Date:
		if raw[0] != '"' {
			return bad("not a timestamp string")
		}
		var s string
		json.Unmarshal(raw, &s)
		t, err := parseTime(s)
		if err != nil {
			return bad("not an RFC 3339 time")
		}
		if c.Kind == change.Date {
			return appendString(buf, t.UTC().Format("2006-01-02")), nil
		}
		return appendString(buf, t.UTC().Format("2006-01-02T15:04:05.999999Z")), nil
	}
	// String: strings as they are (the body was parsed, so raw is a valid
	// JSON string already); numbers and booleans as their text; objects
	// and arrays as JSON text.
	if raw[0] == '"' {
		return append(buf, raw...), nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return bad("not JSON")
	}
	return appendString(buf, b.String()), nil
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", s)
}

// appendString appends s as a JSON string.
func appendString(buf []byte, s string) []byte { return change.AppendJSONString(buf, s) }
