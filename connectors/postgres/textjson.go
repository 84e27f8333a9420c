package postgres

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/inlet-dev/inlet/change"
)

// appendJSON appends the envelope form of a Postgres value given in its text
// output form (as pgoutput and COPY text send it, with DateStyle=ISO,
// TimeZone=UTC, bytea_output=hex, extra_float_digits=3).
func appendJSON(buf []byte, c *change.Column, text []byte) ([]byte, error) {
	if c.Kind == change.Array {
		return appendArray(buf, c.Elem, arrayDelim(strings.TrimSuffix(c.SourceType, "[]")), text)
	}
	return appendKind(buf, c.Kind, text)
}

func appendKind(buf []byte, k change.Kind, text []byte) ([]byte, error) {
	switch k {
	case change.Int16, change.Int32, change.Int64:
		return append(buf, text...), nil
	case change.Float32, change.Float64:
		switch string(text) {
		case "NaN", "Infinity", "-Infinity":
			return appendString(buf, text), nil
		}
		return append(buf, text...), nil
	case change.Bool:
		if len(text) == 1 && text[0] == 't' {
			return append(buf, "true"...), nil
		}
		if len(text) == 1 && text[0] == 'f' {
			return append(buf, "false"...), nil
		}
		return buf, fmt.Errorf("bad boolean %q", text)
	case change.Decimal, change.String, change.UUID, change.JSON:
		return appendString(buf, text), nil
	case change.Date, change.Timestamp, change.TimestampTZ:
		return appendTime(buf, k, text)
	case change.Bytes:
		// bytea is \x-prefixed hex (bytea_output=hex); PostGIS geometry
		// and geography print bare hex EWKB.
		h := text
		if len(h) >= 2 && h[0] == '\\' && h[1] == 'x' {
			h = h[2:]
		}
		raw := make([]byte, hex.DecodedLen(len(h)))
		if _, err := hex.Decode(raw, h); err != nil {
			return buf, fmt.Errorf("bytes not in hex form (bytea_output must be hex): %w", err)
		}
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, raw)
		return append(buf, '"'), nil
	}
	return buf, fmt.Errorf("no JSON form for kind %q", k)
}

// appendTime converts Postgres's ISO output of a date, timestamp or
// timestamptz to the envelope form (change.ParseTime): "T" between date
// and time, "Z" for UTC, astronomical signed years instead of " BC",
// infinity kept as a word.
//
//	2024-01-02 15:04:05.5+00     → "2024-01-02T15:04:05.5Z"
//	0044-03-15 12:00:00+00 BC    → "-0043-03-15T12:00:00Z"
//	12345-06-07                  → "12345-06-07"
func appendTime(buf []byte, k change.Kind, text []byte) ([]byte, error) {
	if string(text) == "infinity" || string(text) == "-infinity" {
		return appendString(buf, text), nil
	}
	bc := bytes.HasSuffix(text, []byte(" BC"))
	if bc {
		text = text[:len(text)-3]
	}
	y := 0
	n := 0
	for n < len(text) && text[n] >= '0' && text[n] <= '9' {
		y = y*10 + int(text[n]-'0')
		n++
	}
	if n < 4 || n >= len(text) || text[n] != '-' {
		return buf, fmt.Errorf("bad %s %q", k, text)
	}
	buf = append(buf, '"')
	if bc {
		y = 1 - y // 1 BC is year 0
		if y < 0 {
			buf = append(buf, '-')
			y = -y
		}
		ys := strconv.Itoa(y)
		for i := len(ys); i < 4; i++ {
			buf = append(buf, '0')
		}
		buf = append(buf, ys...)
	} else {
		buf = append(buf, text[:n]...)
	}
	rest := text[n:] // "-01-02[ 15:04:05.999999[+00]]"
	if k == change.Date {
		buf = append(buf, rest...)
		return append(buf, '"'), nil
	}
	if len(rest) < 7 || rest[6] != ' ' {
		return buf, fmt.Errorf("bad %s %q", k, text)
	}
	buf = append(buf, rest[:6]...)
	buf = append(buf, 'T')
	rest = rest[7:]
	if k == change.TimestampTZ {
		switch {
		case bytes.HasSuffix(rest, []byte("+00")):
			buf = append(buf, rest[:len(rest)-3]...)
			buf = append(buf, 'Z')
		case len(rest) > 3 && (rest[len(rest)-3] == '+' || rest[len(rest)-3] == '-'):
			// Not UTC (the session TimeZone should be UTC): keep the
			// offset, in ISO form.
			buf = append(buf, rest...)
			buf = append(buf, ":00"...)
		default:
			// An offset with minutes or seconds: keep it as written.
			buf = append(buf, rest...)
		}
	} else {
		buf = append(buf, rest...)
	}
	return append(buf, '"'), nil
}

// appendString appends s as a JSON string. Invalid UTF-8 is replaced.
func appendString(buf, s []byte) []byte { return change.AppendJSONString(buf, s) }

// appendArray converts a Postgres array literal ({1,NULL,"a b"}) to a JSON
// array of elem values. Postgres does not fix an array column's number of
// dimensions: a multi-dimensional value ({{1,2},{3,4}}) is flattened in
// row-major order ([1,2,3,4], what unnest returns) and explicit lower bounds
// ([0:1]={1,2}) are dropped; docs/types.md says so, and a column declared
// with several dimensions is carried as text instead (see loadTable).
func appendArray(buf []byte, elem change.Kind, delim byte, text []byte) ([]byte, error) {
	buf = append(buf, '[')
	first := true
	err := arrayItems(text, delim, func(item []byte, null bool) error {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		if null {
			buf = append(buf, "null"...)
			return nil
		}
		var err error
		buf, err = appendKind(buf, elem, item)
		return err
	})
	if err != nil {
		return buf, err
	}
	return append(buf, ']'), nil
}

// arrayItems calls fn with each element of a Postgres array literal, in
// row-major order (null: the element is NULL); see appendArray.
func arrayItems(text []byte, delim byte, fn func(item []byte, null bool) error) error {
	if len(text) > 0 && text[0] == '[' { // explicit bounds: [1:2][0:1]={...}
		if i := bytes.IndexByte(text, '='); i > 0 {
			text = text[i+1:]
		}
	}
	if len(text) < 2 || text[0] != '{' || text[len(text)-1] != '}' {
		return fmt.Errorf("array literal %q: not an array", clip(text))
	}
	var item []byte
	depth := 0
	for i := 0; i < len(text); {
		switch c := text[i]; {
		case c == '{':
			depth++
			i++
			continue
		case c == '}':
			depth--
			i++
			continue
		case c == delim:
			i++
			continue
		case c == ' ' || c == '\t' || c == '\n':
			i++
			continue
		}
		if depth <= 0 {
			return fmt.Errorf("array literal %q: text after the closing brace", clip(text))
		}
		if text[i] == '"' {
			item = item[:0]
			i++
			for ; i < len(text) && text[i] != '"'; i++ {
				if text[i] == '\\' && i+1 < len(text) {
					i++
				}
				item = append(item, text[i])
			}
			i++ // closing quote
			if err := fn(item, false); err != nil {
				return err
			}
			continue
		}
		j := i
		for j < len(text) && text[j] != delim && text[j] != '}' {
			j++
		}
		tok := bytes.TrimRight(text[i:j], " ")
		i = j
		if err := fn(tok, string(tok) == "NULL"); err != nil {
			return err
		}
	}
	return nil
}

func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

// copyFields splits one line of COPY text format into fields, unescaping in
// place into scratch. A nil field is SQL NULL (\N).
func copyFields(line []byte, fields [][]byte, scratch []byte) ([][]byte, []byte) {
	fields = fields[:0]
	scratch = scratch[:0]
	// Most lines hold no backslash at all: no NULL and nothing escaped.
	// Split them with IndexByte, which scans a word at a time.
	if bytes.IndexByte(line, '\\') < 0 {
		for {
			i := bytes.IndexByte(line, '\t')
			if i < 0 {
				return append(fields, line), scratch
			}
			fields = append(fields, line[:i:i])
			line = line[i+1:]
		}
	}
	for {
		i := bytes.IndexByte(line, '\t')
		f := line
		if i >= 0 {
			f, line = line[:i:i], line[i+1:]
		}
		switch {
		case len(f) == 2 && f[0] == '\\' && f[1] == 'N':
			fields = append(fields, nil)
		case bytes.IndexByte(f, '\\') < 0:
			fields = append(fields, f)
		default:
			s := len(scratch)
			scratch = unescapeCopy(scratch, f)
			// If scratch grew into a new array, earlier fields still point
			// at the old one, whose bytes are unchanged: they stay valid.
			fields = append(fields, scratch[s:len(scratch):len(scratch)])
		}
		if i < 0 {
			return fields, scratch
		}
	}
}

// unescapeCopy appends f, one COPY text field, with its escapes decoded.
func unescapeCopy(dst, f []byte) []byte {
	for j := 0; j < len(f); j++ {
		c := f[j]
		if c != '\\' || j+1 == len(f) {
			dst = append(dst, c)
			continue
		}
		j++
		switch f[j] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'v':
			dst = append(dst, '\v')
		case 'x':
			v, n := 0, 0
			for n < 2 && j+1 < len(f) && isHex(f[j+1]) {
				j++
				v = v*16 + unhex(f[j])
				n++
			}
			dst = append(dst, byte(v))
		default:
			if f[j] >= '0' && f[j] <= '7' {
				v, n := 0, 0
				for n < 3 && j < len(f) && f[j] >= '0' && f[j] <= '7' {
					v = v*8 + int(f[j]-'0')
					j++
					n++
				}
				j--
				dst = append(dst, byte(v))
			} else {
				dst = append(dst, f[j])
			}
		}
	}
	return dst
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}
