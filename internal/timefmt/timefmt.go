// Package timefmt renders times for people reading status and describe.
package timefmt

import "time"

// Ago renders t as RFC 3339 and how long ago it was, or "never".
func Ago(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "never"
	}
	return t.UTC().Format(time.RFC3339) + ", " + time.Since(t).Round(time.Second).String() + " ago"
}
