package clickhouse

import (
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"github.com/inlet-dev/inlet/change"
)

// Column-wise inserts. The rows a batch leaves after collapsing are
// appended to the native-protocol block one column at a time, each as a
// typed slice of pointers (nil: NULL) that clickhouse-go copies into the
// column in one call, instead of a row of boxed values per row that it
// takes apart again column by column. A value whose Go type is not the
// column's usual one (an int32 in a column widened to Int64, a UUID, an
// array) is appended on its own with AppendRow, exactly as a row-wise
// Append would.

// columnAppender collects one column's values.
type columnAppender interface {
	add(col driver.BatchColumn, v any) error
	flush(col driver.BatchColumn) error
}

// typed appends values of Go type T as []*T.
type typed[T any] struct {
	vals []T
	ptrs []*T
}

func newTyped[T any](n int) *typed[T] {
	return &typed[T]{vals: make([]T, 0, n), ptrs: make([]*T, 0, n)}
}

func (t *typed[T]) add(col driver.BatchColumn, v any) error {
	if v == nil {
		t.ptrs = append(t.ptrs, nil)
		return nil
	}
	x, ok := v.(T)
	if !ok {
		if err := t.flush(col); err != nil {
			return err
		}
		return col.AppendRow(v)
	}
	// vals never grows past its capacity (one per row), so the pointers
	// stay on its array.
	t.vals = append(t.vals, x)
	t.ptrs = append(t.ptrs, &t.vals[len(t.vals)-1])
	return nil
}

func (t *typed[T]) flush(col driver.BatchColumn) error {
	if len(t.ptrs) == 0 {
		return nil
	}
	err := col.Append(t.ptrs)
	t.ptrs = t.ptrs[:0]
	return err
}

// rowwise appends each value with AppendRow.
type rowwise struct{}

func (rowwise) add(col driver.BatchColumn, v any) error { return col.AppendRow(v) }
func (rowwise) flush(driver.BatchColumn) error          { return nil }

// appenderFor picks the appender for a mirror column of rows values, by
// the Go type convert gives its values on server version ver.
func appenderFor(c change.Column, ver Version, rows int) columnAppender {
	switch c.Kind {
	case change.Int16:
		return newTyped[int16](rows)
	case change.Int32:
		return newTyped[int32](rows)
	case change.Int64:
		return newTyped[int64](rows)
	case change.Float32:
		return newTyped[float32](rows)
	case change.Float64:
		return newTyped[float64](rows)
	case change.Bool:
		if ver.hasBool() {
			return newTyped[bool](rows)
		}
		return newTyped[uint8](rows)
	case change.Decimal:
		if c.Precision > 0 && c.Precision <= 38 {
			return newTyped[decimal.Decimal](rows)
		}
		return newTyped[string](rows)
	case change.String, change.JSON, change.Bytes:
		return newTyped[string](rows)
	case change.Date, change.Timestamp, change.TimestampTZ:
		return newTyped[time.Time](rows)
	}
	return rowwise{}
}

// appendColumns appends states (the collapsed rows, in insert order) to
// batch, whose columns are m's then _version, _deleted and _synced_at.
func (s *Sink) appendColumns(batch driver.Batch, m *mirror, states []*state, keyCols []int, now time.Time) error {
	for i, c := range m.columns {
		col := batch.Column(i)
		app := appenderFor(c, s.version, len(states))
		for _, st := range states {
			v, err := s.value(m.name, c, st.values[i], st.values, keyCols, m.columns)
			if err != nil {
				return fmt.Errorf("clickhouse: %s.%s: %w: %w", m.name, c.Name, ErrValue, err)
			}
			if err := app.add(col, v); err != nil {
				return fmt.Errorf("clickhouse: append to %s.%s: %w: %w", m.name, c.Name, ErrValue, err)
			}
		}
		if err := app.flush(col); err != nil {
			return fmt.Errorf("clickhouse: append to %s.%s: %w: %w", m.name, c.Name, ErrValue, err)
		}
	}
	n := len(m.columns)
	versions, deleted, synced := make([]uint64, len(states)), make([]uint8, len(states)), make([]time.Time, len(states))
	for j, st := range states {
		versions[j], synced[j] = st.version, now
		if st.deleted {
			deleted[j] = 1
		}
	}
	for j, vals := range []any{versions, deleted, synced} {
		if err := batch.Column(n + j).Append(vals); err != nil {
			return fmt.Errorf("clickhouse: append to %s: %w: %w", m.name, ErrValue, err)
		}
	}
	return nil
}

// keyString is a row image's key, for collapsing a batch's changes by key
// (the same text fmt's %v gives, faster for the usual key types).
func keyString(buf []byte, img []any, keyCols []int) ([]byte, string) {
	buf = buf[:0]
	for _, i := range keyCols {
		switch v := img[i].(type) {
		case int64:
			buf = strconv.AppendInt(buf, v, 10)
		case int32:
			buf = strconv.AppendInt(buf, int64(v), 10)
		case int16:
			buf = strconv.AppendInt(buf, int64(v), 10)
		case string:
			buf = append(buf, v...)
		default:
			buf = fmt.Appendf(buf, "%v", v)
		}
		buf = append(buf, 0)
	}
	return buf, string(buf)
}
