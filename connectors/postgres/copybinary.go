package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Snapshots copy in COPY's binary format when every column of the table
// has a wire form below ("binary where it pays"): Postgres then skips its
// output functions (numeric and timestamp formatting were a third of the
// server's COPY time) and Inlet skips text unescaping. Each binary value is
// turned into exactly the text Postgres would have sent (the session has
// DateStyle ISO and TimeZone UTC), so everything after the parser — the
// envelope encoding, the progress keys — is shared with the text format;
// a test compares the two for every form on a real server.

// wire is how a column arrives in binary COPY.
type wire byte

const (
	wireNone        wire = iota // no binary decoder: the table is copied as text
	wireRaw                     // text, varchar, bpchar, name, json, enum: the text itself
	wireJSONB                   // version byte 1, then the text
	wireInt                     // int2, int4, int8: big-endian
	wireBool                    // one byte
	wireNumeric                 // base-10000 digits
	wireDate                    // int32 days since 2000-01-01
	wireTimestamp               // int64 µs since 2000-01-01 00:00:00
	wireTimestampTZ             // the same, in UTC
	wireUUID                    // 16 bytes
)

var wireByType = map[string]wire{
	"text": wireRaw, "varchar": wireRaw, "bpchar": wireRaw, "name": wireRaw, "json": wireRaw,
	"jsonb": wireJSONB, "int2": wireInt, "int4": wireInt, "int8": wireInt, "bool": wireBool,
	"numeric": wireNumeric, "date": wireDate, "timestamp": wireTimestamp,
	"timestamptz": wireTimestampTZ, "uuid": wireUUID,
}

// wireOf is the binary form of a column of type oid (domains send their
// base type's form; enums their label).
func wireOf(types map[uint32]pgType, oid uint32) wire {
	t := types[oid]
	for t.typtype == 'd' {
		t = types[t.base]
	}
	if t.typtype == 'e' {
		return wireRaw
	}
	if t.isArray {
		return wireNone
	}
	return wireByType[t.name]
}

// binaryCopy reports whether t can be copied in binary.
func (t *tableInfo) binaryCopy() bool {
	for _, w := range t.wires {
		if w == wireNone {
			return false
		}
	}
	return len(t.wires) > 0
}

var copySignature = []byte("PGCOPY\n\377\r\n\000")

var errBinaryCopy = errors.New("malformed binary COPY data")

// binaryTuple reads one tuple of binary COPY output from p into fields
// (nil for NULL; aliasing p). It returns the bytes consumed, 0 when p holds
// no complete tuple, and end when the trailer was read.
func binaryTuple(p []byte, fields [][]byte) (n int, out [][]byte, end bool, err error) {
	out = fields[:0]
	if len(p) < 2 {
		return 0, out, false, nil
	}
	count := int16(binary.BigEndian.Uint16(p))
	if count == -1 {
		return 2, out, true, nil
	}
	if count < 0 {
		return 0, out, false, fmt.Errorf("%w: field count %d", errBinaryCopy, count)
	}
	i := 2
	for f := 0; f < int(count); f++ {
		if len(p) < i+4 {
			return 0, out, false, nil
		}
		size := int32(binary.BigEndian.Uint32(p[i:]))
		i += 4
		if size == -1 {
			out = append(out, nil)
			continue
		}
		if size < 0 {
			return 0, out, false, fmt.Errorf("%w: field length %d", errBinaryCopy, size)
		}
		if len(p) < i+int(size) {
			return 0, out, false, nil
		}
		out = append(out, p[i:i+int(size):i+int(size)])
		i += int(size)
	}
	return i, out, false, nil
}

// binaryHeader reads the header of binary COPY output: the bytes consumed,
// or 0 when p does not hold all of it yet.
func binaryHeader(p []byte) (int, error) {
	if len(p) < len(copySignature)+8 {
		return 0, nil
	}
	if string(p[:len(copySignature)]) != string(copySignature) {
		return 0, fmt.Errorf("%w: no PGCOPY signature", errBinaryCopy)
	}
	ext := int(binary.BigEndian.Uint32(p[len(copySignature)+4:]))
	n := len(copySignature) + 8 + ext
	if len(p) < n {
		return 0, nil
	}
	return n, nil
}

// appendWireText appends the text Postgres outputs for value b of form w.
func appendWireText(dst []byte, w wire, b []byte) ([]byte, error) {
	switch w {
	case wireRaw:
		return append(dst, b...), nil
	case wireJSONB:
		if len(b) == 0 || b[0] != 1 {
			return dst, fmt.Errorf("%w: jsonb version %v", errBinaryCopy, b[:min(1, len(b))])
		}
		return append(dst, b[1:]...), nil
	case wireInt:
		switch len(b) {
		case 2:
			return strconv.AppendInt(dst, int64(int16(binary.BigEndian.Uint16(b))), 10), nil
		case 4:
			return strconv.AppendInt(dst, int64(int32(binary.BigEndian.Uint32(b))), 10), nil
		case 8:
			return strconv.AppendInt(dst, int64(binary.BigEndian.Uint64(b)), 10), nil
		}
	case wireBool:
		if len(b) == 1 {
			if b[0] != 0 {
				return append(dst, 't'), nil
			}
			return append(dst, 'f'), nil
		}
	case wireNumeric:
		return appendNumericText(dst, b)
	case wireDate:
		if len(b) == 4 {
			return appendDateText(dst, int32(binary.BigEndian.Uint32(b))), nil
		}
	case wireTimestamp, wireTimestampTZ:
		if len(b) == 8 {
			return appendTimestampText(dst, int64(binary.BigEndian.Uint64(b)), w == wireTimestampTZ), nil
		}
	case wireUUID:
		if len(b) == 16 {
			const hexd = "0123456789abcdef"
			for i, c := range b {
				if i == 4 || i == 6 || i == 8 || i == 10 {
					dst = append(dst, '-')
				}
				dst = append(dst, hexd[c>>4], hexd[c&0xf])
			}
			return dst, nil
		}
	}
	return dst, fmt.Errorf("%w: %d bytes for wire form %d", errBinaryCopy, len(b), w)
}

// appendNumericText renders a binary numeric as numeric_out does: all
// dscale digits after the point, no exponent.
func appendNumericText(dst, b []byte) ([]byte, error) {
	if len(b) < 8 {
		return dst, fmt.Errorf("%w: numeric of %d bytes", errBinaryCopy, len(b))
	}
	ndigits := int(int16(binary.BigEndian.Uint16(b)))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	dscale := int(int16(binary.BigEndian.Uint16(b[6:])))
	if ndigits < 0 || dscale < 0 || len(b) != 8+2*ndigits {
		return dst, fmt.Errorf("%w: numeric header", errBinaryCopy)
	}
	switch sign {
	case 0xC000:
		return append(dst, "NaN"...), nil
	case 0xD000:
		return append(dst, "Infinity"...), nil
	case 0xF000:
		return append(dst, "-Infinity"...), nil
	case 0x4000:
		dst = append(dst, '-')
	case 0x0000:
	default:
		return dst, fmt.Errorf("%w: numeric sign %#x", errBinaryCopy, sign)
	}
	digit := func(i int) int {
		if i < 0 || i >= ndigits {
			return 0
		}
		return int(binary.BigEndian.Uint16(b[8+2*i:]))
	}
	if weight < 0 {
		dst = append(dst, '0')
	} else {
		dst = strconv.AppendInt(dst, int64(digit(0)), 10)
		for i := 1; i <= weight; i++ {
			dst = append4(dst, digit(i))
		}
	}
	if dscale > 0 {
		dst = append(dst, '.')
		for i, left := weight+1, dscale; left > 0; i, left = i+1, left-4 {
			d := digit(i)
			var four [4]byte
			four[0], four[1], four[2], four[3] = byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10)
			dst = append(dst, four[:min(4, left)]...)
		}
	}
	return dst, nil
}

func append4(dst []byte, d int) []byte {
	return append(dst, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
}

func append2(dst []byte, d int) []byte { return append(dst, byte('0'+d/10), byte('0'+d%10)) }

// postgresEpochJDate is the Julian day of 2000-01-01, where binary dates
// and timestamps count from.
const postgresEpochJDate = 2451545

// j2date is Postgres's Julian day to Gregorian date conversion.
func j2date(jd int) (year, month, day int) {
	julian := uint32(jd) + 32044
	quad := julian / 146097
	extra := (julian-quad*146097)*4 + 3
	julian += 60 + quad*3 + extra/146097
	quad = julian / 1461
	julian -= quad * 1461
	y := int(julian * 4 / 1461)
	if y != 0 {
		julian = (julian+305)%365 + 123
	} else {
		julian = (julian+306)%366 + 123
	}
	y += int(quad) * 4
	year = y - 4800
	q := julian * 2141 / 65536
	day = int(julian - 7834*q/256)
	month = int((q+10)%12 + 1)
	return year, month, day
}

// appendYMD appends an ISO date; years before 1 are returned as bc.
func appendYMD(dst []byte, jd int) (out []byte, bc bool) {
	y, m, d := j2date(jd)
	if y <= 0 {
		y, bc = 1-y, true
	}
	if y < 10000 {
		dst = append4(dst, y)
	} else {
		dst = strconv.AppendInt(dst, int64(y), 10)
	}
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	return append2(dst, d), bc
}

func appendDateText(dst []byte, days int32) []byte {
	switch days {
	case math.MinInt32:
		return append(dst, "-infinity"...)
	case math.MaxInt32:
		return append(dst, "infinity"...)
	}
	dst, bc := appendYMD(dst, int(days)+postgresEpochJDate)
	if bc {
		dst = append(dst, " BC"...)
	}
	return dst
}

const usPerDay = 86_400_000_000

func appendTimestampText(dst []byte, us int64, tz bool) []byte {
	switch us {
	case math.MinInt64:
		return append(dst, "-infinity"...)
	case math.MaxInt64:
		return append(dst, "infinity"...)
	}
	days, t := us/usPerDay, us%usPerDay
	if t < 0 {
		t += usPerDay
		days--
	}
	dst, bc := appendYMD(dst, int(days)+postgresEpochJDate)
	sec := t / 1_000_000
	dst = append(dst, ' ')
	dst = append2(dst, int(sec/3600))
	dst = append(dst, ':')
	dst = append2(dst, int(sec/60%60))
	dst = append(dst, ':')
	dst = append2(dst, int(sec%60))
	if frac := t % 1_000_000; frac != 0 {
		var six [7]byte
		six[0] = '.'
		for i := 6; i >= 1; i-- {
			six[i] = byte('0' + frac%10)
			frac /= 10
		}
		n := 7
		for six[n-1] == '0' {
			n--
		}
		dst = append(dst, six[:n]...)
	}
	if tz {
		dst = append(dst, "+00"...)
	}
	if bc {
		dst = append(dst, " BC"...)
	}
	return dst
}
