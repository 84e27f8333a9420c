package clickhouse

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/inlet-dev/inlet/change"
)

// chValue converts a change value to what clickhouse-go appends for the
// column's type on this server.
func chValue(c change.Column, v any, ver Version) (any, error) {
	if _, ok := v.(change.Unchanged); ok {
		v = nil // never stored before: nothing to keep
	}
	if c.Kind == change.Array {
		items, _ := v.([]any)
		return arrayValue(c.Elem, items, ver)
	}
	if v == nil {
		if c.Key {
			return nil, fmt.Errorf("key column is NULL")
		}
		return nil, nil
	}
	return scalarCH(c.Kind, c.Precision, v, ver)
}

func scalarCH(k change.Kind, precision int, v any, ver Version) (any, error) {
	switch k {
	case change.Decimal:
		if precision > 0 && precision <= 38 {
			d, err := decimal.NewFromString(v.(string))
			if err != nil {
				return nil, fmt.Errorf("decimal %q: %w", v, err)
			}
			return d, nil
		}
	case change.Bool:
		if !ver.hasBool() {
			if v.(bool) {
				return uint8(1), nil
			}
			return uint8(0), nil
		}
	case change.Bytes:
		return string(v.([]byte)), nil
	case change.Date, change.Timestamp, change.TimestampTZ:
		t := v.(time.Time)
		lo, hi := 1970, 2105
		if ver.hasDateTime64() {
			lo, hi = 1900, 2262
		}
		if t.Year() < lo || t.Year() > hi {
			return nil, fmt.Errorf("%s is outside the range ClickHouse %d.%d stores (%d to %d)", t.Format(time.RFC3339Nano), ver.Major, ver.Minor, lo, hi)
		}
		return t, nil
	}
	return v, nil
}

func arrayValue(elem change.Kind, items []any, ver Version) (any, error) {
	var proto any
	if len(items) > 0 {
		for _, it := range items {
			if it != nil {
				x, err := scalarCH(elem, 0, it, ver)
				if err != nil {
					return nil, err
				}
				proto = x
				break
			}
		}
	}
	var et reflect.Type
	if proto != nil {
		et = reflect.TypeOf(proto)
	} else {
		et = reflect.TypeOf(zeroOf(elem, ver))
	}
	out := reflect.MakeSlice(reflect.SliceOf(reflect.PointerTo(et)), len(items), len(items))
	for i, it := range items {
		if it == nil {
			continue
		}
		x, err := scalarCH(elem, 0, it, ver)
		if err != nil {
			return nil, err
		}
		p := reflect.New(et)
		p.Elem().Set(reflect.ValueOf(x))
		out.Index(i).Set(p)
	}
	return out.Interface(), nil
}

func zeroOf(k change.Kind, ver Version) any {
	switch k {
	case change.Int16:
		return int16(0)
	case change.Int32:
		return int32(0)
	case change.Int64:
		return int64(0)
	case change.Float32:
		return float32(0)
	case change.Float64:
		return float64(0)
	case change.Bool:
		if ver.hasBool() {
			return false
		}
		return uint8(0)
	case change.Date, change.Timestamp, change.TimestampTZ:
		return time.Time{}
	}
	return ""
}

// fromCH converts a scanned ClickHouse value back to the change domain.
func fromCH(c change.Column, v any) any {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return nil
	}
	x := rv.Interface()
	if c.Kind == change.Array {
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = fromCH(change.Column{Kind: c.Elem}, rv.Index(i).Interface())
		}
		return out
	}
	switch t := x.(type) {
	case decimal.Decimal:
		return t.StringFixed(int32(c.Scale))
	case uuid.UUID:
		return t.String()
	case uint8:
		if c.Kind == change.Bool {
			return t == 1
		}
	case string:
		if c.Kind == change.Bytes {
			return []byte(t)
		}
	case time.Time:
		return t.UTC()
	}
	return x
}

// fillUnchanged looks up, in the mirror, the stored values of TOAST columns
// that changes in this batch did not send.
func (s *Sink) fillUnchanged(ctx context.Context, m *mirror, keyCols []int, latest map[string]*state) error {
	var firstKeys []any
	need := 0
	for _, st := range latest {
		if len(st.missing) > 0 {
			firstKeys = append(firstKeys, mustCH(m.columns[keyCols[0]], st.values[keyCols[0]], s.version))
			need++
		}
	}
	if need == 0 {
		return nil
	}
	names := make([]string, len(m.columns))
	for i, c := range m.columns {
		names[i] = quote(c.Name)
	}
	// N.B. clickhouse-go renders a bound slice as an array literal, which
	// IN rejects; bind each key as its own placeholder.
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(firstKeys)), ", ")
	q := fmt.Sprintf("SELECT %s FROM %s.%s FINAL WHERE %s IN (%s) AND `_deleted` = 0",
		strings.Join(names, ", "), quote(s.db), quote(m.name), quote(m.columns[keyCols[0]].Name), marks)
	rows, err := s.conn.Query(ctx, q, firstKeys...)
	if err != nil {
		return fmt.Errorf("clickhouse: look up unchanged TOAST values in %s: %w", m.name, err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	dest := make([]any, len(types))
	for rows.Next() {
		for i, t := range types {
			dest[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("clickhouse: look up unchanged TOAST values in %s: %w", m.name, err)
		}
		img := make([]any, len(m.columns))
		for i, c := range m.columns {
			img[i] = fromCH(c, dest[i])
		}
		st := latest[keyString(img, keyCols)]
		if st == nil {
			continue
		}
		for _, i := range st.missing {
			st.values[i] = img[i]
		}
		st.missing = nil
	}
	return rows.Err()
}

func mustCH(c change.Column, v any, ver Version) any {
	x, err := scalarCH(c.Kind, c.Precision, v, ver)
	if err != nil {
		return v
	}
	return x
}
