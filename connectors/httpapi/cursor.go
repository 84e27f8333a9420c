package httpapi

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// cval is one cursor value, comparable in its format's order. text is its
// canonical form (stored in positions and envelopes).
type cval struct {
	set    bool
	isTime bool
	t      time.Time // rfc3339, unix, unix_ms
	n      int64     // integer
	s      string    // string
	text   string
}

// parseCursor reads a record's cursor field.
func parseCursor(format string, raw json.RawMessage) (cval, error) {
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return cval{}, err
		}
	} else {
		s = string(raw)
	}
	return parseStoredCursor(format, s)
}

// parseStoredCursor reads a cursor value in text form.
func parseStoredCursor(format, s string) (cval, error) {
	if s == "" {
		return cval{}, fmt.Errorf("empty cursor value")
	}
	c := cval{set: true}
	switch format {
	case CursorRFC3339:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return cval{}, fmt.Errorf("%q is not an RFC 3339 time (set cursor.format to match the API)", s)
		}
		c.isTime, c.t = true, t.UTC()
		c.text = c.t.Format(time.RFC3339Nano)
	case CursorUnix, CursorUnixMs:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return cval{}, fmt.Errorf("%q is not a %s timestamp", s, format)
		}
		if format == CursorUnix {
			c.t = time.UnixMicro(int64(math.Round(f * 1e6))).UTC()
			c.text = strconv.FormatFloat(f, 'f', -1, 64)
		} else {
			c.t = time.UnixMicro(int64(math.Round(f * 1e3))).UTC()
			c.text = strconv.FormatFloat(f, 'f', -1, 64)
		}
		c.isTime = true
	case CursorInteger:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return cval{}, fmt.Errorf("%q is not an integer", s)
		}
		c.n, c.text = n, strconv.FormatInt(n, 10)
	default:
		c.s, c.text = s, s
	}
	return c, nil
}

func (c cval) less(o cval) bool {
	switch {
	case c.isTime:
		return c.t.Before(o.t)
	case c.s != "" || o.s != "":
		return c.s < o.s
	}
	return c.n < o.n
}

// minus is the lower bound lookback before c (time cursors only).
func (c cval) minus(d time.Duration) cval {
	if !c.isTime || d == 0 {
		return c
	}
	out := c
	out.t = c.t.Add(-d)
	out.text = out.t.Format(time.RFC3339Nano)
	return out
}

// param renders the value as the API's lower-bound query parameter.
func (c cval) param(format string) string {
	switch format {
	case CursorRFC3339:
		return c.t.Format(time.RFC3339Nano)
	case CursorUnix:
		return strconv.FormatInt(c.t.Unix(), 10) // floor: inclusive
	case CursorUnixMs:
		return strconv.FormatInt(c.t.UnixMilli(), 10)
	}
	return c.text
}

// version is the change's version (_version in the sinks): the cursor's
// time in µs or its integer value, which grow with every change of a
// record; a string cursor has no number, so the emit sequence stands in.
func (c cval) version(seq uint64) uint64 {
	switch {
	case c.isTime:
		return uint64(max(c.t.UnixMicro(), 0))
	case c.s == "" && c.set:
		return uint64(max(c.n, 0))
	}
	return seq
}
