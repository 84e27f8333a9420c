package lake

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/shopspring/decimal"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/lake/store"
)

func leafNode(k change.Kind, precision, scale int) parquet.Node {
	switch k {
	case change.Int16:
		return parquet.Int(16)
	case change.Int32:
		return parquet.Int(32)
	case change.Int64:
		return parquet.Int(64)
	case change.Decimal:
		switch {
		case precision > 0 && precision <= 9:
			return parquet.Decimal(scale, precision, parquet.Int32Type)
		case precision > 0 && precision <= 18:
			return parquet.Decimal(scale, precision, parquet.Int64Type)
		case precision > 0 && precision <= 38:
			return parquet.Decimal(scale, precision, parquet.FixedLenByteArrayType(16))
		}
		return parquet.String()
	case change.Float32:
		return parquet.Leaf(parquet.FloatType)
	case change.Float64:
		return parquet.Leaf(parquet.DoubleType)
	case change.Bool:
		return parquet.Leaf(parquet.BooleanType)
	case change.Bytes:
		return parquet.Leaf(parquet.ByteArrayType)
	case change.Date:
		return parquet.Date()
	case change.Timestamp:
		return parquet.TimestampAdjusted(parquet.Microsecond, false)
	case change.TimestampTZ:
		return parquet.TimestampAdjusted(parquet.Microsecond, true)
	}
	return parquet.String()
}

func columnNode(c change.Column) parquet.Node {
	if c.Kind == change.Array {
		return parquet.Optional(parquet.List(parquet.Optional(leafNode(c.Elem, 0, 0))))
	}
	return parquet.Optional(leafNode(c.Kind, c.Precision, c.Scale))
}

// writeParquet writes rows with the table's columns to key (durably), and
// returns the file size. Rows whose schema lacks a column get NULL there.
func writeParquet(st store.Store, key string, cols []change.Column, rows []Row) (int64, error) {
	w, err := newRowWriter(st, key, cols)
	if err != nil {
		return 0, err
	}
	defer w.abort()
	if err := w.write(rows); err != nil {
		return 0, err
	}
	return w.close()
}

// rowWriter streams rows into one Parquet file with the table's columns.
type rowWriter struct {
	f      store.Writer
	w      *parquet.Writer
	cols   []change.Column
	order  []int                    // leaf index → cols index
	idx    map[*change.Schema][]int // per row schema: table column → row value index (-1: none)
	closed bool
}

func newRowWriter(st store.Store, key string, cols []change.Column) (*rowWriter, error) {
	group := parquet.Group{}
	for _, c := range cols {
		group[c.Name] = columnNode(c)
	}
	schema := parquet.NewSchema("inlet", group)
	// Group fields are sorted by name; every field has exactly one leaf.
	fields := schema.Fields()
	order := make([]int, len(fields))
	byName := map[string]int{}
	for i, c := range cols {
		byName[c.Name] = i
	}
	for i, f := range fields {
		order[i] = byName[f.Name()]
	}
	f, err := st.Create(context.Background(), key, false)
	if err != nil {
		return nil, err
	}
	w := parquet.NewWriter(f, schema, parquet.Compression(snappyCodec), parquet.CreatedBy("inlet", "0.1", ""))
	return &rowWriter{f: f, w: w, cols: cols, order: order, idx: map[*change.Schema][]int{}}, nil
}

// flush ends the current row group (bounds the writer's memory).
func (rw *rowWriter) flush() error {
	return rw.w.Flush()
}

// close finishes the file, makes it durable and returns its size.
func (rw *rowWriter) close() (int64, error) {
	rw.closed = true
	if err := rw.w.Close(); err != nil {
		rw.f.Abort()
		return 0, err
	}
	return rw.f.Commit()
}

// abort gives up the file of a writer that was not closed.
func (rw *rowWriter) abort() {
	if !rw.closed {
		rw.f.Abort()
	}
}

func metaValue(name string, r *Row) any {
	switch name {
	case "_op":
		return string([]byte{r.Op})
	case "_version":
		return int64(r.Version)
	case "_ts":
		return time.UnixMilli(r.TsMs).UTC()
	case "_kafka_partition":
		return r.Partition
	case "_kafka_offset":
		return r.Offset
	case "_nan":
		var names []string
		for i, v := range r.Values {
			if s, ok := v.(string); ok && s == "NaN" && typedDecimal(r.Schema.Columns[i]) {
				names = append(names, r.Schema.Columns[i].Name)
			}
		}
		if names == nil {
			return nil
		}
		return strings.Join(names, ",")
	case "_unchanged":
		var names []string
		for i, v := range r.Values {
			if _, ok := v.(change.Unchanged); ok {
				names = append(names, r.Schema.Columns[i].Name)
			}
		}
		if names == nil {
			return nil
		}
		return strings.Join(names, ",")
	}
	return nil
}

func appendValue(row parquet.Row, c *change.Column, v any, leaf int) (parquet.Row, error) {
	if _, ok := v.(change.Unchanged); ok || v == nil {
		return append(row, parquet.NullValue().Level(0, 0, leaf)), nil
	}
	if c.Kind == change.Array {
		items, ok := v.([]any)
		if !ok {
			return row, fmt.Errorf("array value is %T", v)
		}
		if len(items) == 0 {
			return append(row, parquet.NullValue().Level(0, 1, leaf)), nil
		}
		for j, it := range items {
			rep := 1
			if j == 0 {
				rep = 0
			}
			if it == nil {
				row = append(row, parquet.NullValue().Level(rep, 2, leaf))
				continue
			}
			pv, err := scalarValue(c.Elem, 0, 0, it)
			if err != nil {
				return row, err
			}
			row = append(row, pv.Level(rep, 3, leaf))
		}
		return row, nil
	}
	pv, err := scalarValue(c.Kind, c.Precision, c.Scale, v)
	if err == errNaN {
		return append(row, parquet.NullValue().Level(0, 0, leaf)), nil
	}
	if err != nil {
		return row, err
	}
	return append(row, pv.Level(0, 1, leaf)), nil
}

// errNaN: a NaN for a Parquet decimal, stored as NULL and listed in _nan.
var errNaN = errors.New("NaN in a decimal column")

// lakeDays is a date as Delta stores it, days since 1970-01-01; infinity
// and -infinity are the int32 extremes, which no Postgres date reaches
// (its last, 5874897-12-31, is day 2,145,042,906).
func lakeDays(t time.Time) int32 {
	switch change.Infinite(t) {
	case 1:
		return math.MaxInt32
	case -1:
		return math.MinInt32
	}
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return int32(d)
}

// lakeMicros is a timestamp as Delta stores it, µs since 1970; infinity and
// -infinity are the int64 extremes. Postgres timestamps after
// change.MaxFiniteTime (year 294247) do not fit and are clamped to it.
func lakeMicros(t time.Time) int64 {
	switch change.Infinite(t) {
	case 1:
		return math.MaxInt64
	case -1:
		return math.MinInt64
	}
	if t.After(change.MaxFiniteTime) {
		return math.MaxInt64 - 1
	}
	return t.UnixMicro()
}

func scalarValue(k change.Kind, precision, scale int, v any) (parquet.Value, error) {
	switch x := v.(type) {
	case int16:
		return parquet.Int32Value(int32(x)), nil
	case int32:
		if k == change.Int64 {
			return parquet.Int64Value(int64(x)), nil
		}
		return parquet.Int32Value(x), nil
	case int64:
		if k == change.Int16 || k == change.Int32 {
			return parquet.Int32Value(int32(x)), nil
		}
		return parquet.Int64Value(x), nil
	case float32:
		if k == change.Float64 { // an older schema's real in a widened column
			return parquet.DoubleValue(float64(x)), nil
		}
		return parquet.FloatValue(x), nil
	case float64:
		return parquet.DoubleValue(x), nil
	case bool:
		return parquet.BooleanValue(x), nil
	case []byte:
		return parquet.ByteArrayValue(x), nil
	case time.Time:
		if k == change.Date {
			return parquet.Int32Value(lakeDays(x)), nil
		}
		return parquet.Int64Value(lakeMicros(x)), nil
	case string:
		if k == change.Decimal && precision > 0 && precision <= 38 {
			if x == "NaN" { // listed in _nan
				return parquet.Value{}, errNaN
			}
			return decimalValue(x, precision, scale)
		}
		// N.B. no copy: the column writer copies the bytes into its buffer
		// before the call returns, and never writes through the slice.
		return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(x), len(x))), nil
	}
	return parquet.Value{}, fmt.Errorf("unsupported value %T for %s", v, k)
}

func decimalValue(s string, precision, scale int) (parquet.Value, error) {
	if precision <= 18 {
		if n, ok := scaledInt(s, scale); ok {
			if precision <= 9 {
				return parquet.Int32Value(int32(n)), nil
			}
			return parquet.Int64Value(n), nil
		}
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return parquet.Value{}, fmt.Errorf("decimal %q: %w (NaN and infinities do not fit a decimal(%d,%d))", s, err, precision, scale)
	}
	unscaled := d.Shift(int32(scale)).BigInt()
	if precision <= 9 {
		return parquet.Int32Value(int32(unscaled.Int64())), nil
	}
	if precision <= 18 {
		return parquet.Int64Value(unscaled.Int64()), nil
	}
	return parquet.FixedLenByteArrayValue(twosComplement16(unscaled)), nil
}

// scaledInt parses a plain decimal ([-]digits[.digits], as Postgres sends
// numerics) into its unscaled value at scale, without allocating. It
// reports false for anything else (exponents, more fractional digits than
// scale, too many digits), which the exact slow path then handles.
func scaledInt(s string, scale int) (int64, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	var n int64
	digits, frac, dot := 0, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && !dot:
			dot = true
			continue
		case c < '0' || c > '9':
			return 0, false
		}
		if dot {
			if frac++; frac > scale {
				return 0, false
			}
		}
		if digits++; digits > 18 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if digits == 0 {
		return 0, false
	}
	for ; frac < scale; frac++ {
		if n > math.MaxInt64/10 {
			return 0, false
		}
		n *= 10
	}
	if neg {
		n = -n
	}
	return n, true
}

func twosComplement16(n *big.Int) []byte {
	out := make([]byte, 16)
	if n.Sign() >= 0 {
		n.FillBytes(out)
		return out
	}
	// 2^128 + n
	m := new(big.Int).Lsh(big.NewInt(1), 128)
	m.Add(m, n)
	m.FillBytes(out)
	return out
}
