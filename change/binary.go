package change

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// The binary envelope (docs/envelope.md, "Binary envelope") carries the
// same event as the JSON one in fewer bytes and without text parsing:
// varints, fixed-width floats, length-prefixed bytes, and the row's
// values in the order of its schema's columns. Its first byte is its
// format and version (BinaryV1); a JSON envelope's is '{', so a topic
// holding both decodes record by record.

// BinaryV1 is the first byte of a version-1 binary envelope. Bytes
// 0xB2-0xBF are kept for later versions.
const BinaryV1 = 0xB1

// HeaderFormat is set to FormatBinary on binary records, so a consumer
// can tell the format without reading the value (JSON records carry no
// such header).
const (
	HeaderFormat = "inlet.format"
	FormatBinary = "binary"
)

// Tags of one value in a binary row or array.
const (
	BinNull      = 0 // SQL NULL, or a column the row does not carry
	BinValue     = 1 // the column's value follows
	BinUnchanged = 2 // after-image only: TOAST value not sent (Unchanged)
)

// Flag bits of the binary envelope's third byte.
const (
	binBefore   = 1 << 0 // a before row follows
	binAfter    = 1 << 1 // an after row follows
	binSnapshot = 1 << 2 // source.snapshot
)

// pgEpoch is 2000-01-01T00:00:00Z in Unix seconds: binary dates and
// timestamps count from it, as Postgres does.
const pgEpoch = 946684800

// Binary dates and timestamps use these counts for ±infinity (Postgres's
// own DATEVAL_NOEND/NOBEGIN and DT_NOEND/NOBEGIN).
const (
	binDateInf  = math.MaxInt32
	binDateNInf = math.MinInt32
	binTimeInf  = math.MaxInt64
	binTimeNInf = math.MinInt64
)

// AppendBinaryHead appends a binary envelope up to its rows: format byte,
// op, flags, schema fingerprint, source block and ts_ms. The before row
// (if hasBefore) and then the after row (if hasAfter) must follow, each
// written with AppendBinaryRow's layout.
func AppendBinaryHead(b []byte, op byte, hasBefore, hasAfter bool, src *Source, tsMs int64, fingerprint string) []byte {
	b = AppendBinaryStart(b, op, hasBefore, hasAfter, src.Snapshot)
	b = AppendBinaryNames(b, fingerprint, src)
	return AppendBinaryPos(b, src, tsMs)
}

// AppendBinaryStart appends the format byte, op and flags. Then come
// AppendBinaryNames and AppendBinaryPos (which is AppendBinaryHead in
// three parts, for a writer that keeps the names' bytes).
func AppendBinaryStart(b []byte, op byte, hasBefore, hasAfter, snapshot bool) []byte {
	var flags byte
	if hasBefore {
		flags |= binBefore
	}
	if hasAfter {
		flags |= binAfter
	}
	if snapshot {
		flags |= binSnapshot
	}
	return append(b, BinaryV1, op, flags)
}

// AppendBinaryNames appends the schema fingerprint and the source block's
// names, the part of the head that repeats record after record of a table.
func AppendBinaryNames(b []byte, fingerprint string, src *Source) []byte {
	for _, s := range [...]string{fingerprint, src.Connector, src.Pipeline, src.DB, src.Schema, src.Table} {
		b = AppendBinaryText(b, s)
	}
	return b
}

// AppendBinaryPos appends the source block's numbers and ts_ms.
func AppendBinaryPos(b []byte, src *Source, tsMs int64) []byte {
	b = binary.AppendUvarint(b, src.LSN)
	b = binary.AppendUvarint(b, src.CommitLSN)
	b = binary.AppendUvarint(b, uint64(src.Seq))
	b = binary.AppendUvarint(b, uint64(src.TxID))
	b = binary.AppendVarint(b, src.TsMs)
	return binary.AppendVarint(b, tsMs)
}

// AppendBinaryInt appends an Int16, Int32 or Int64 value (zigzag varint).
func AppendBinaryInt(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

// AppendBinaryFloat64 appends a Float64 value (IEEE 754, little endian).
func AppendBinaryFloat64(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// AppendBinaryFloat32 appends a Float32 value (IEEE 754, little endian).
func AppendBinaryFloat32(b []byte, f float32) []byte {
	return binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
}

// AppendBinaryBool appends a Bool value.
func AppendBinaryBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// AppendBinaryText appends a Decimal, String or JSON value (and the
// head's names): uvarint length, then UTF-8 bytes (invalid UTF-8 replaced
// by U+FFFD per byte, as in the JSON envelope).
func AppendBinaryText[T string | []byte](b []byte, s T) []byte {
	if utf8.Valid([]byte(s)) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...)
	}
	var v []byte
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRune([]byte(s[i:]))
		v = utf8.AppendRune(v, r)
		i += n
	}
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// AppendBinaryBytes appends a Bytes value: uvarint length, then the bytes.
func AppendBinaryBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// AppendBinaryUUID appends a UUID given in its canonical text form as its
// 16 bytes.
func AppendBinaryUUID[T string | []byte](b []byte, s T) ([]byte, error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return b, fmt.Errorf("uuid %q is not in canonical form", s)
	}
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		h, l := unhex(s[i]), unhex(s[i+1])
		if h < 0 || l < 0 {
			return b, fmt.Errorf("uuid %q is not in canonical form", s)
		}
		b = append(b, byte(h<<4|l))
		i += 2
	}
	return b, nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// AppendBinaryTime appends a Date (zigzag varint of days since
// 2000-01-01) or a Timestamp or TimestampTZ (zigzag varint of
// microseconds since 2000-01-01T00:00:00 UTC). PosInfinity and
// NegInfinity are the largest and smallest int32 (dates) or int64.
func AppendBinaryTime(b []byte, k Kind, t time.Time) ([]byte, error) {
	inf := Infinite(t)
	if k == Date {
		switch inf {
		case 1:
			return binary.AppendVarint(b, binDateInf), nil
		case -1:
			return binary.AppendVarint(b, binDateNInf), nil
		}
		sec := t.Unix() - pgEpoch
		days := sec / 86400
		if sec%86400 < 0 {
			days--
		}
		if days >= binDateInf || days <= binDateNInf {
			return b, fmt.Errorf("date %v out of range", t)
		}
		return binary.AppendVarint(b, days), nil
	}
	switch inf {
	case 1:
		return binary.AppendVarint(b, binTimeInf), nil
	case -1:
		return binary.AppendVarint(b, binTimeNInf), nil
	}
	sec := t.Unix() - pgEpoch
	if sec >= math.MaxInt64/1_000_000-1 || sec <= math.MinInt64/1_000_000+1 {
		return b, fmt.Errorf("%s %v out of range", k, t)
	}
	return binary.AppendVarint(b, sec*1e6+int64(t.Nanosecond()/1000)), nil
}

// binTime is the time of a binary Date or timestamp count.
func binTime(k Kind, n int64) time.Time {
	if k == Date {
		switch n {
		case binDateInf:
			return PosInfinity
		case binDateNInf:
			return NegInfinity
		}
		return time.Unix(n*86400+pgEpoch, 0).UTC()
	}
	switch n {
	case binTimeInf:
		return PosInfinity
	case binTimeNInf:
		return NegInfinity
	}
	sec, us := n/1e6, n%1e6
	if us < 0 {
		sec, us = sec-1, us+1e6
	}
	return time.Unix(sec+pgEpoch, us*1000).UTC()
}

// AppendBinaryValue appends the value v of a column of kind k (elem for
// arrays) in its decoded Go type (see decodeValue), without its tag.
func AppendBinaryValue(b []byte, k, elem Kind, v any) ([]byte, error) {
	switch k {
	case Int16:
		return AppendBinaryInt(b, int64(v.(int16))), nil
	case Int32:
		return AppendBinaryInt(b, int64(v.(int32))), nil
	case Int64:
		return AppendBinaryInt(b, v.(int64)), nil
	case Float32:
		return AppendBinaryFloat32(b, v.(float32)), nil
	case Float64:
		return AppendBinaryFloat64(b, v.(float64)), nil
	case Bool:
		return AppendBinaryBool(b, v.(bool)), nil
	case Decimal, String, JSON:
		return AppendBinaryText(b, v.(string)), nil
	case UUID:
		return AppendBinaryUUID(b, v.(string))
	case Bytes:
		return AppendBinaryBytes(b, v.([]byte)), nil
	case Date, Timestamp, TimestampTZ:
		return AppendBinaryTime(b, k, v.(time.Time))
	case Array:
		items := v.([]any)
		b = binary.AppendUvarint(b, uint64(len(items)))
		var err error
		for _, it := range items {
			if it == nil {
				b = append(b, BinNull)
				continue
			}
			b = append(b, BinValue)
			if b, err = AppendBinaryValue(b, elem, "", it); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	return b, fmt.Errorf("unknown kind %q", k)
}

// AppendBinaryRow appends a row of decoded values (nil: BinNull,
// Unchanged{}: BinUnchanged): uvarint column count, then a tag and value
// per column.
func AppendBinaryRow(b []byte, row []any, s *Schema) ([]byte, error) {
	if len(row) != len(s.Columns) {
		return b, fmt.Errorf("row of %s has %d values, its schema %d columns", s.Name(), len(row), len(s.Columns))
	}
	b = binary.AppendUvarint(b, uint64(len(row)))
	var err error
	for i, v := range row {
		switch v.(type) {
		case nil:
			b = append(b, BinNull)
			continue
		case Unchanged:
			b = append(b, BinUnchanged)
			continue
		}
		c := &s.Columns[i]
		b = append(b, BinValue)
		if b, err = AppendBinaryValue(b, c.Kind, c.Elem, v); err != nil {
			return b, fmt.Errorf("column %s.%s: %w", s.Name(), c.Name, err)
		}
	}
	return b, nil
}

// EncodeBinary appends ev as a binary envelope of schema s.
func EncodeBinary(b []byte, ev *Event, s *Schema) ([]byte, error) {
	b = AppendBinaryHead(b, ev.Op, ev.Before != nil, ev.After != nil, &ev.Source, ev.TsMs, ev.Schema)
	var err error
	for _, row := range [][]any{ev.Before, ev.After} {
		if row != nil {
			if b, err = AppendBinaryRow(b, row, s); err != nil {
				return b, err
			}
		}
	}
	return b, nil
}

// BudgetBytes is how much a record value counts against the engine's
// byte budgets (engine.batch_bytes, the sink queues), which stand for the
// memory its decoded rows take. A JSON envelope counts its length. A binary
// one counts 2.5 times its length: it is about 2.6 times smaller than the
// JSON of the same change (docs/benchmarks.md) but decodes to the same
// rows, and counted by length a batch would hold 2.6 times the rows, with
// the memory and garbage-collection work that go with them.
func BudgetBytes(value []byte) int {
	if len(value) > 0 && value[0] == BinaryV1 {
		return len(value) * 5 / 2
	}
	return len(value)
}
