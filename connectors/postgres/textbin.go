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
		if n, ok := fastPgTime(k, text); ok {
			return change.AppendBinaryInt(buf, n), nil
		}
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

// fastPgTime reads the forms Postgres prints for nearly every value
// (2006-01-02, 2006-01-02 15:04:05[.ffffff], the same with +00 for
// timestamptz; years 1000-9999) as the binary envelope's count: days, or
// microseconds, since 2000-01-01. Anything else returns false and takes the
// general path.
func fastPgTime(k change.Kind, b []byte) (int64, bool) {
	num := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	if len(b) < 10 || b[4] != '-' || b[7] != '-' || b[0] == '0' {
		return 0, false
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > monthDays(y, mo) {
		return 0, false
	}
	days := civilDays(y, mo, d) - 10957 // 1970-01-01 to 2000-01-01
	if k == change.Date {
		return days, len(b) == 10
	}
	rest := b[10:]
	if k == change.TimestampTZ {
		if len(rest) < 3 || string(rest[len(rest)-3:]) != "+00" {
			return 0, false
		}
		rest = rest[:len(rest)-3]
	}
	if len(rest) < 9 || rest[0] != ' ' || rest[3] != ':' || rest[6] != ':' {
		return 0, false
	}
	h, ok1 := num(rest[1:3])
	mi, ok2 := num(rest[4:6])
	sec, ok3 := num(rest[7:9])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || sec > 59 {
		return 0, false
	}
	us := 0
	if frac := rest[9:]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 7 {
			return 0, false
		}
		f, ok := num(frac[1:])
		if !ok {
			return 0, false
		}
		for i := len(frac) - 1; i < 6; i++ {
			f *= 10
		}
		us = f
	}
	return (days*86400+int64(h*3600+mi*60+sec))*1_000_000 + int64(us), true
}

// civilDays is the number of days from 1970-01-01 to y-m-d (proleptic
// Gregorian; Howard Hinnant's days_from_civil).
func civilDays(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	doy := (153*((m+9)%12)+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func monthDays(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
