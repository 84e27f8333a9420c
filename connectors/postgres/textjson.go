package postgres

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/inlet-dev/inlet/change"
)

// appendJSON appends the envelope form of a Postgres value given in its text
// output form (as pgoutput and COPY text send it, with DateStyle=ISO,
// TimeZone=UTC, bytea_output=hex, extra_float_digits=3).
func appendJSON(buf []byte, c *change.Column, text []byte) ([]byte, error) {
	return appendKind(buf, c.Kind, c.Elem, text)
}

func appendKind(buf []byte, k, elem change.Kind, text []byte) ([]byte, error) {
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
	case change.Decimal, change.String, change.UUID, change.JSON, change.Date:
		return appendString(buf, text), nil
	case change.Timestamp:
		// "2006-01-02 15:04:05.999999" → "2006-01-02T15:04:05.999999"
		buf = append(buf, '"')
		start := len(buf)
		buf = append(buf, text...)
		if len(text) > 10 && text[10] == ' ' {
			buf[start+10] = 'T'
		}
		return append(buf, '"'), nil
	case change.TimestampTZ:
		// "2006-01-02 15:04:05.999999+00" → "2006-01-02T15:04:05.999999Z"
		n := len(text)
		if n > 3 && string(text[n-3:]) == "+00" {
			text = text[:n-3]
		} else if n < 11 {
			return buf, fmt.Errorf("bad timestamptz %q", text)
		} else {
			// Not UTC (the session TimeZone must be UTC): keep the offset as
			// written, ISO form.
			buf = append(buf, '"')
			start := len(buf)
			buf = append(buf, text...)
			buf[start+10] = 'T'
			return append(buf, ":00\""...), nil
		}
		buf = append(buf, '"')
		start := len(buf)
		buf = append(buf, text...)
		if len(text) > 10 && text[10] == ' ' {
			buf[start+10] = 'T'
		}
		return append(buf, 'Z', '"'), nil
	case change.Bytes:
		if len(text) < 2 || text[0] != '\\' || text[1] != 'x' {
			return buf, fmt.Errorf("bytea not in hex form (set bytea_output=hex)")
		}
		raw := make([]byte, hex.DecodedLen(len(text)-2))
		if _, err := hex.Decode(raw, text[2:]); err != nil {
			return buf, fmt.Errorf("bad bytea: %w", err)
		}
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, raw)
		return append(buf, '"'), nil
	case change.Array:
		return appendArray(buf, elem, text)
	}
	return buf, fmt.Errorf("no JSON form for kind %q", k)
}

// appendString appends s as a JSON string. Invalid UTF-8 is replaced.
func appendString(buf, s []byte) []byte { return change.AppendJSONString(buf, s) }

// appendArray converts a one-dimensional Postgres array literal
// ({1,NULL,"a b"}) to a JSON array.
func appendArray(buf []byte, elem change.Kind, text []byte) ([]byte, error) {
	if len(text) < 2 || text[0] != '{' || text[len(text)-1] != '}' {
		return buf, fmt.Errorf("array literal %q: only one-dimensional arrays with default bounds are supported; list the column in text_columns", clip(text))
	}
	buf = append(buf, '[')
	body := text[1 : len(text)-1]
	var item []byte
	first := true
	for i := 0; i < len(body); {
		if !first {
			if body[i] != ',' {
				return buf, fmt.Errorf("array literal %q: expected ','", clip(text))
			}
			i++
			buf = append(buf, ',')
		}
		first = false
		if i < len(body) && body[i] == '{' {
			return buf, fmt.Errorf("array literal %q: multi-dimensional arrays are not supported; list the column in text_columns", clip(text))
		}
		if i < len(body) && body[i] == '"' {
			item = item[:0]
			i++
			for ; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				item = append(item, body[i])
			}
			i++ // closing quote
			var err error
			if buf, err = appendKind(buf, elem, "", item); err != nil {
				return buf, err
			}
			continue
		}
		j := i
		for j < len(body) && body[j] != ',' {
			j++
		}
		tok := body[i:j]
		i = j
		if string(tok) == "NULL" {
			buf = append(buf, "null"...)
			continue
		}
		var err error
		if buf, err = appendKind(buf, elem, "", tok); err != nil {
			return buf, err
		}
	}
	return append(buf, ']'), nil
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
