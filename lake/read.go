package lake

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/inlet-dev/inlet/change"
)

// Schema returns the table's source columns as a change schema (without
// Inlet's meta columns), as the log's metaData records them.
func (t *Table) Schema() *change.Schema {
	tn := strings.SplitN(t.Name, ".", 2)
	sc := &change.Schema{Namespace: tn[0], Table: tn[len(tn)-1]}
	for _, c := range t.columns {
		if !isMeta(c.Name) {
			sc.Columns = append(sc.Columns, c)
		}
	}
	sc.Seal()
	return sc
}

// ReadRows calls fn with the table's change rows, file by file in log order
// (rows within a file in offset order). Memory holds one file's rows.
func (t *Table) ReadRows(fn func([]change.Row) error) error {
	sc := t.Schema()
	cols, pos := t.physicalSchema(sc)
	files := t.Files()
	sort.SliceStable(files, func(i, j int) bool { return t.order[files[i]] < t.order[files[j]] })
	for _, rel := range files {
		rows, err := t.readFile(rel, cols, sc, pos)
		if err != nil {
			return fmt.Errorf("lake table %s: read %s: %w", t.Name, rel, err)
		}
		if err := fn(rows); err != nil {
			return err
		}
	}
	return nil
}

// readFile reads the data file rel of the table.
func (t *Table) readFile(rel string, cols []change.Column, sc *change.Schema, pos map[string]int) ([]change.Row, error) {
	f, err := t.st.Open(context.Background(), t.key(rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pf, err := parquet.OpenFile(f, f.Size())
	if err != nil {
		return nil, err
	}
	fields := pf.Schema().Fields()
	byName := map[string]change.Column{}
	for _, c := range cols {
		byName[c.Name] = c
	}
	r := parquet.NewReader(pf)
	defer r.Close()
	var out []change.Row
	buf := make([]parquet.Row, 256)
	for {
		n, err := r.ReadRows(buf)
		for _, prow := range buf[:n] {
			row := change.Row{Schema: sc, Values: make([]any, len(sc.Columns))}
			var unchanged, nan string
			for leaf, f := range fields {
				c, ok := byName[f.Name()]
				if !ok {
					continue
				}
				if lt := f.Type().LogicalType(); c.Kind == change.Decimal && lt != nil {
					if d, ok := lt.Value.(*format.DecimalType); ok {
						// A widened decimal: older files keep their own.
						c.Precision, c.Scale = int(d.Precision), int(d.Scale)
					}
				}
				v, err := columnValue(prow, leaf, c)
				if err != nil {
					return nil, fmt.Errorf("column %s: %w", c.Name, err)
				}
				switch c.Name {
				case "_op":
					if s, _ := v.(string); s != "" {
						row.Op = s[0]
					}
				case "_version":
					row.Version = uint64(v.(int64))
				case "_ts":
					row.TsMs = v.(time.Time).UnixMilli()
				case "_kafka_partition":
					row.Partition = v.(int32)
				case "_kafka_offset":
					row.Offset = v.(int64)
				case "_unchanged":
					unchanged, _ = v.(string)
				case "_nan":
					nan, _ = v.(string)
				default:
					if i, ok := pos[c.Name]; ok {
						row.Values[i] = v
					}
				}
			}
			for _, name := range strings.Split(nan, ",") {
				if i, ok := pos[name]; ok && name != "" {
					row.Values[i] = "NaN"
				}
			}
			for _, name := range strings.Split(unchanged, ",") {
				if i, ok := pos[name]; ok && name != "" {
					row.Values[i] = change.Unchanged{}
				}
			}
			out = append(out, row)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// columnValue decodes the values of one leaf column of a row.
func columnValue(row parquet.Row, leaf int, c change.Column) (any, error) {
	var vals []parquet.Value
	for _, v := range row {
		if v.Column() == leaf {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return nil, nil
	}
	if c.Kind == change.Array {
		if vals[0].DefinitionLevel() == 0 {
			return nil, nil
		}
		if vals[0].DefinitionLevel() == 1 {
			return []any{}, nil
		}
		items := make([]any, len(vals))
		for i, v := range vals {
			if v.DefinitionLevel() < 3 {
				continue
			}
			x, err := scalarFrom(v, c.Elem, 0, 0)
			if err != nil {
				return nil, err
			}
			items[i] = x
		}
		return items, nil
	}
	if vals[0].IsNull() {
		return nil, nil
	}
	return scalarFrom(vals[0], c.Kind, c.Precision, c.Scale)
}

func scalarFrom(v parquet.Value, k change.Kind, precision, scale int) (any, error) {
	switch k {
	case change.Int16:
		return int16(v.Int32()), nil
	case change.Int32:
		return v.Int32(), nil
	case change.Int64:
		return v.Int64(), nil
	case change.Float32:
		return v.Float(), nil
	case change.Float64:
		if v.Kind() == parquet.Float { // a file from before float → double
			return float64(v.Float()), nil
		}
		return v.Double(), nil
	case change.Bool:
		return v.Boolean(), nil
	case change.Bytes:
		return append([]byte(nil), v.ByteArray()...), nil
	case change.Date:
		return dateFrom(v.Int32()), nil
	case change.Timestamp, change.TimestampTZ:
		if v.Kind() == parquet.Int32 { // a file from before date → timestamp
			return dateFrom(v.Int32()), nil
		}
		return time.UnixMicro(v.Int64()).UTC(), nil // ±infinity included

	case change.Decimal:
		switch {
		case precision > 0 && precision <= 9:
			return formatUnscaled(big.NewInt(int64(v.Int32())), scale), nil
		case precision > 0 && precision <= 18:
			return formatUnscaled(big.NewInt(v.Int64()), scale), nil
		case precision > 0 && precision <= 38:
			b := v.ByteArray()
			n := new(big.Int).SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 {
				n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
			return formatUnscaled(n, scale), nil
		}
	}
	return string(v.ByteArray()), nil
}

// dateFrom is a Delta date (days since 1970) as a time; the int32 extremes
// are ±infinity (see lakeDays).
func dateFrom(d int32) time.Time {
	switch d {
	case math.MaxInt32:
		return change.PosInfinity
	case math.MinInt32:
		return change.NegInfinity
	}
	return time.Unix(int64(d)*86400, 0).UTC()
}

func formatUnscaled(n *big.Int, scale int) string {
	s := new(big.Int).Abs(n).String()
	if scale > 0 {
		for len(s) <= scale {
			s = "0" + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if n.Sign() < 0 {
		s = "-" + s
	}
	return s
}
