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
// column's type on this server, clamping what the type cannot hold (see
// Sink.value for the policies).
func chValue(c change.Column, v any, ver Version) (any, error) {
	x, _, err := convert(c, v, ver, OutOfRangeClamp)
	return x, err
}

// convert is chValue under a policy; issue describes the first value the
// column type could not hold ("" if none), which policy then decided.
func convert(c change.Column, v any, ver Version, policy string) (out any, issue string, err error) {
	if _, ok := v.(change.Unchanged); ok {
		v = nil // never stored before: nothing to keep
	}
	if c.Kind == change.Array {
		items, _ := v.([]any)
		return arrayValue(c.Elem, items, ver, policy)
	}
	if v == nil {
		if c.Key {
			return nil, "", fmt.Errorf("key column is NULL")
		}
		return nil, "", nil
	}
	x, issue, err := scalarCH(c.Kind, c.Precision, c.Scale, v, ver)
	if err != nil || issue == "" {
		return x, "", err
	}
	switch policy {
	case OutOfRangeFail:
		return nil, issue, fmt.Errorf("%s (clickhouse.out_of_range is fail; set clamp or null to let such values through)", issue)
	case OutOfRangeNull:
		if !c.Key {
			return nil, issue, nil
		}
	}
	if x == nil && c.Key { // NaN in a Decimal key: its nearest is 0
		x = decimal.Zero
	}
	return x, issue, nil
}

// Ranges of ClickHouse's date and time types, as the server and
// clickhouse-go (which converts through int64 nanoseconds) accept them.
var (
	oldDateLo, oldDateHi = day(1970, 1, 1), day(2105, 12, 31)
	oldTimeLo, oldTimeHi = day(1970, 1, 1), time.Date(2105, 12, 31, 23, 59, 59, 0, time.UTC)
	date32Lo, date32Hi   = day(1900, 1, 1), day(2299, 12, 31)
	time64Lo, time64Hi   = day(1900, 1, 1), time.Date(2262, 4, 11, 23, 47, 16, 0, time.UTC)
	// Before 22.8, Date32 and DateTime64 spanned 1925 to 2283.
	early64Lo, early64Hi = day(1925, 1, 1), day(2283, 11, 11)
)

func day(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

// timeRange is the span a server stores for a Date (date true) or a
// timestamp column.
func (v Version) timeRange(date bool) (lo, hi time.Time) {
	switch {
	case date && !v.hasDate32():
		return oldDateLo, oldDateHi
	case !date && !v.hasDateTime64():
		return oldTimeLo, oldTimeHi
	case date:
		lo, hi = date32Lo, date32Hi
	default:
		lo, hi = time64Lo, time64Hi
	}
	if !v.AtLeast(22, 8) {
		if lo.Before(early64Lo) {
			lo = early64Lo
		}
		if hi.After(early64Hi) {
			hi = early64Hi
		}
	}
	return lo, hi
}

// scalarCH converts one non-NULL value; a value the type cannot hold comes
// back clamped (NaN in a Decimal: nil) with issue saying what it was.
func scalarCH(k change.Kind, precision, scale int, v any, ver Version) (out any, issue string, err error) {
	switch k {
	case change.Decimal:
		if precision > 0 && precision <= 38 {
			s := v.(string)
			if s == "NaN" || s == "Infinity" || s == "-Infinity" {
				return nil, fmt.Sprintf("%s does not fit Decimal(%d, %d)", s, precision, scale), nil
			}
			d, err := decimal.NewFromString(s)
			if err != nil {
				return nil, "", fmt.Errorf("decimal %q: %w", v, err)
			}
			return d, "", nil
		}
	case change.Bool:
		if !ver.hasBool() {
			if v.(bool) {
				return uint8(1), "", nil
			}
			return uint8(0), "", nil
		}
	case change.Bytes:
		return string(v.([]byte)), "", nil
	case change.Date, change.Timestamp, change.TimestampTZ:
		t := v.(time.Time)
		lo, hi := ver.timeRange(k == change.Date)
		if t.Before(lo) || t.After(hi) {
			typ := scalarType(k, 0, 0, ver)
			what := string(change.AppendTime(nil, k, t))
			if t.Before(lo) {
				return lo, fmt.Sprintf("%s is before %s, the first %s ClickHouse %d.%d holds", what, string(change.AppendTime(nil, k, lo)), typ, ver.Major, ver.Minor), nil
			}
			return hi, fmt.Sprintf("%s is after %s, the last %s ClickHouse %d.%d holds", what, string(change.AppendTime(nil, k, hi)), typ, ver.Major, ver.Minor), nil
		}
		return t, "", nil
	}
	return v, "", nil
}

func arrayValue(elem change.Kind, items []any, ver Version, policy string) (any, string, error) {
	et := reflect.TypeOf(zeroOf(elem, ver))
	out := reflect.MakeSlice(reflect.SliceOf(reflect.PointerTo(et)), len(items), len(items))
	first := ""
	for i, it := range items {
		if it == nil {
			continue
		}
		x, issue, err := scalarCH(elem, 0, 0, it, ver)
		if err != nil {
			return nil, "", err
		}
		if issue != "" {
			if first == "" {
				first = issue
			}
			if policy == OutOfRangeFail {
				return nil, issue, fmt.Errorf("element %d: %s (clickhouse.out_of_range is fail; set clamp or null to let such values through)", i, issue)
			}
			if policy == OutOfRangeNull {
				continue
			}
		}
		if x == nil {
			continue
		}
		p := reflect.New(et)
		p.Elem().Set(reflect.ValueOf(x))
		out.Index(i).Set(p)
	}
	return out.Interface(), first, nil
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
		_, k := keyString(nil, img, keyCols)
		st := latest[k]
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
	x, _, err := scalarCH(c.Kind, c.Precision, c.Scale, v, ver)
	if err != nil || x == nil {
		return v
	}
	return x
}
