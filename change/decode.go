package change

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
)

// Unchanged marks a column whose value the source did not send because it
// did not change (a TOASTed value untouched by an UPDATE). Sinks keep the
// stored value; they must never write it as NULL.
type Unchanged struct{}

// Event is a decoded change envelope.
type Event struct {
	Op byte
	// Before and After hold one value per schema column (nil = SQL NULL or
	// absent, Unchanged{} = not sent). Before is nil unless the source sent it.
	Before, After []any
	Source        Source
	TsMs          int64
	Schema        string // fingerprint
}

type wireEvent struct {
	V         int                        `json:"v"`
	Op        string                     `json:"op"`
	Before    map[string]json.RawMessage `json:"before"`
	After     map[string]json.RawMessage `json:"after"`
	Unchanged []string                   `json:"unchanged"`
	Source    Source                     `json:"source"`
	TsMs      int64                      `json:"ts_ms"`
	Schema    string                     `json:"schema"`
}

// decodeReference parses an envelope with encoding/json. It is the
// reference the fast decoder (Decode) is fuzzed against.
func decodeReference(data []byte, s *Schema) (*Event, error) {
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("decode change: %w", err)
	}
	if w.V != EnvelopeVersion {
		return nil, fmt.Errorf("change envelope version %d; this Inlet reads %d (upgrade Inlet)", w.V, EnvelopeVersion)
	}
	if len(w.Op) != 1 {
		return nil, fmt.Errorf("change envelope: bad op %q", w.Op)
	}
	ev := &Event{Op: w.Op[0], Source: w.Source, TsMs: w.TsMs, Schema: w.Schema}
	var err error
	if w.Before != nil {
		if ev.Before, err = decodeRow(w.Before, nil, s); err != nil {
			return nil, err
		}
	}
	if w.After != nil {
		if ev.After, err = decodeRow(w.After, w.Unchanged, s); err != nil {
			return nil, err
		}
	}
	return ev, nil
}

func decodeRow(m map[string]json.RawMessage, unchanged []string, s *Schema) ([]any, error) {
	row := make([]any, len(s.Columns))
	for i, c := range s.Columns {
		raw, ok := m[c.Name]
		if !ok {
			continue
		}
		v, err := decodeValue(raw, c.Kind, c.Elem)
		if err != nil {
			return nil, fmt.Errorf("column %s.%s (%s): %w", s.Name(), c.Name, c.SourceType, err)
		}
		row[i] = v
	}
	for _, name := range unchanged {
		for i, c := range s.Columns {
			if c.Name == name {
				row[i] = Unchanged{}
			}
		}
	}
	return row, nil
}

var null = []byte("null")

// Go types of decoded values: int16, int32, int64, string (Decimal, String,
// UUID, JSON), float32, float64, bool, []byte, time.Time (Date, Timestamp
// and TimestampTZ, all in UTC) and []any for arrays.
func decodeValue(raw json.RawMessage, k, elem Kind) (any, error) {
	if bytes.Equal(raw, null) {
		return nil, nil
	}
	switch k {
	case Int16:
		v, err := strconv.ParseInt(string(raw), 10, 16)
		return int16(v), err
	case Int32:
		v, err := strconv.ParseInt(string(raw), 10, 32)
		return int32(v), err
	case Int64:
		return strconv.ParseInt(string(raw), 10, 64)
	case Float32, Float64:
		s := string(raw)
		if raw[0] == '"' {
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, err
			}
		}
		bits := 64
		if k == Float32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(s, bits)
		if k == Float32 {
			return float32(f), err
		}
		return f, err
	case Bool:
		switch string(raw) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("bad bool %s", raw)
	case Decimal, String, UUID, JSON:
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case Bytes:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return base64.StdEncoding.DecodeString(s)
	case Date, Timestamp, TimestampTZ:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return ParseTime(k, s)
	case Array:
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		out := make([]any, len(items))
		for i, it := range items {
			v, err := decodeValue(it, elem, "")
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown kind %q", k)
}
