package change

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Special time values. Postgres dates and timestamps have ±infinity and a
// range (4713 BC to 5874897 AD for dates, to 294276 AD for timestamps) far
// wider than most sinks. In the envelope they are written as:
//
//	"infinity", "-infinity"
//	[-]YYYY-MM-DD[THH:MM:SS[.ffffff]][Z]   astronomical years: 0 is 1 BC,
//	                                        -43 is 44 BC; more than four
//	                                        digits when the year needs them
//
// Decoded, every value is a time.Time in UTC: infinity is PosInfinity and
// -infinity NegInfinity, the extremes of a microsecond count in an int64
// (which is also how the lake stores them: see docs/types.md).
var (
	PosInfinity = time.UnixMicro(math.MaxInt64).UTC()
	NegInfinity = time.UnixMicro(math.MinInt64).UTC()
)

// Infinite reports +1 for PosInfinity, -1 for NegInfinity, 0 otherwise.
func Infinite(t time.Time) int {
	switch {
	case t.Equal(PosInfinity):
		return 1
	case t.Equal(NegInfinity):
		return -1
	}
	return 0
}

// MaxFiniteMicros is the last finite timestamp an int64 microsecond count
// since 1970 holds (294247-01-10T04:00:54.775806Z); Postgres goes 29 years
// further, and those rare values are clamped to it (see docs/types.md).
var MaxFiniteTime = time.UnixMicro(math.MaxInt64 - 1).UTC()

// MinFiniteTime is the lowest finite value kept: Postgres's own minimum
// (4713-11-24 BC) is far above an int64's, so nothing is clamped there.
var MinFiniteTime = time.UnixMicro(math.MinInt64 + 1).UTC()

// ParseTime parses the envelope form of a Date, Timestamp or TimestampTZ.
func ParseTime(k Kind, s string) (time.Time, error) {
	switch s {
	case "infinity":
		return PosInfinity, nil
	case "-infinity":
		return NegInfinity, nil
	}
	t, ok := parseTime(k, s)
	if !ok {
		return time.Time{}, fmt.Errorf("%q is not a %s in the envelope's form ([-]YYYY-MM-DD…, infinity, -infinity)", s, k)
	}
	return t, nil
}

func parseTime(k Kind, s string) (time.Time, bool) {
	i := 0
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j-i < 4 || j-i > 9 || j >= len(s) || s[j] != '-' {
		return time.Time{}, false
	}
	y, _ := strconv.Atoi(s[i:j])
	if neg {
		y = -y
	}
	// The rest has the fixed form fastTime knows; parse it with year 2000
	// (a leap year, so Feb 29 passes) and put the real year back.
	rest := "2000" + s[j:]
	t, ok := fastTime(k, []byte(rest))
	if !ok && k == TimestampTZ { // an offset other than Z
		for _, layout := range []string{"2006-01-02T15:04:05.999999Z07:00", "2006-01-02T15:04:05.999999Z07:00:00"} {
			if pt, err := time.Parse(layout, rest); err == nil {
				_, off := pt.Zone()
				t, ok = pt.Add(-time.Duration(off)*time.Second), true
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
				// keep the wall clock of year 2000 shifted to UTC; the
				// real year is put back below.
				break
			}
		}
	}
	if !ok {
		return time.Time{}, false
	}
	out := time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	if out.Day() != t.Day() { // Feb 29 of a year that has none
		return time.Time{}, false
	}
	return out, true
}

// AppendTime appends the envelope form of t (see ParseTime) without quotes.
func AppendTime(dst []byte, k Kind, t time.Time) []byte {
	switch Infinite(t) {
	case 1:
		return append(dst, "infinity"...)
	case -1:
		return append(dst, "-infinity"...)
	}
	t = t.UTC()
	y := t.Year()
	if y < 0 {
		dst = append(dst, '-')
		y = -y
	}
	ys := strconv.Itoa(y)
	for n := len(ys); n < 4; n++ {
		dst = append(dst, '0')
	}
	dst = append(dst, ys...)
	dst = t.AppendFormat(dst, "-01-02")
	if k == Date {
		return dst
	}
	dst = t.AppendFormat(dst, "T15:04:05.999999")
	if k == TimestampTZ {
		dst = append(dst, 'Z')
	}
	return dst
}

// ParseTimeBytes is ParseTime of b, without a copy in the usual forms.
func ParseTimeBytes(k Kind, b []byte) (time.Time, error) {
	if t, ok := fastTime(k, b); ok {
		return t, nil
	}
	return ParseTime(k, string(b))
}
