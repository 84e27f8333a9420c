package postgres

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/inlet-dev/inlet/change"
)

// binScratch is room binary encoding reuses from value to value.
type binScratch struct {
	time  []byte // a time's envelope text
	array []byte // an array's elements, before their count is known
}

// appendBin appends the binary envelope form (docs/envelope.md, without
// the tag) of a Postgres value given in its text output form: the same
// value appendJSON writes, in the binary layout.
func appendBin(buf []byte, c *change.Column, text []byte, sc *binScratch) ([]byte, error) {
	if c.Kind != change.Array {
		return appendBinKind(buf, c.Kind, text, sc)
	}
	n := 0
	elems := sc.array[:0]
	err := arrayItems(text, arrayDelim(strings.TrimSuffix(c.SourceType, "[]")), func(item []byte, null bool) error {
		n++
		if null {
			elems = append(elems, change.BinNull)
			return nil
		}
		elems = append(elems, change.BinValue)
		var err error
		elems, err = appendBinKind(elems, c.Elem, item, sc)
		return err
	})
	sc.array = elems[:0]
	if err != nil {
		return buf, err
	}
	buf = binary.AppendUvarint(buf, uint64(n))
	return append(buf, elems...), nil
}

func appendBinKind(buf []byte, k change.Kind, text []byte, sc *binScratch) ([]byte, error) {
	switch k {
	case change.Int16, change.Int32, change.Int64:
		bits := 64
		switch k {
		case change.Int16:
			bits = 16
		case change.Int32:
			bits = 32
		}
		v, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(text), len(text)), 10, bits)
		if err != nil {
			return buf, fmt.Errorf("bad %s %q", k, text)
		}
		return change.AppendBinaryInt(buf, v), nil
	case change.Float32, change.Float64:
		bits := 64
		if k == change.Float32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(text), len(text)), bits)
		if err != nil {
			return buf, fmt.Errorf("bad %s %q", k, text)
		}
		if k == change.Float32 {
			return change.AppendBinaryFloat32(buf, float32(f)), nil
		}
		return change.AppendBinaryFloat64(buf, f), nil
	case change.Bool:
		if len(text) == 1 && (text[0] == 't' || text[0] == 'f') {
			return change.AppendBinaryBool(buf, text[0] == 't'), nil
		}
		return buf, fmt.Errorf("bad boolean %q", text)
	case change.Decimal, change.String, change.JSON:
		return change.AppendBinaryText(buf, text), nil
	case change.UUID:
		return change.AppendBinaryUUID(buf, text)
	case change.Date, change.Timestamp, change.TimestampTZ:
		q, err := appendTime(sc.time[:0], k, text) // `"2006-01-02T…Z"`
		sc.time = q[:0]
		if err != nil {
			return buf, err
		}
		t, err := change.ParseTimeBytes(k, q[1:len(q)-1])
		if err != nil {
			return buf, err
		}
		return change.AppendBinaryTime(buf, k, t)
	case change.Bytes:
		h := text
		if len(h) >= 2 && h[0] == '\\' && h[1] == 'x' {
			h = h[2:]
		}
		n := hex.DecodedLen(len(h))
		buf = binary.AppendUvarint(buf, uint64(n))
		at := len(buf)
		buf = append(buf, make([]byte, n)...)
		if _, err := hex.Decode(buf[at:], h); err != nil {
			return buf[:at], fmt.Errorf("bytes not in hex form (bytea_output must be hex): %w", err)
		}
		return buf, nil
	}
	return buf, fmt.Errorf("no binary form for kind %q", k)
}
