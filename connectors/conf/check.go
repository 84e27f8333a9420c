package conf

import (
	"net/url"
	"strings"
	"time"
)

// Checker is what a section's Validate reports to. Paths are key paths
// from the file's root, e.g. "sources[0].postgres.dsn".
type Checker interface {
	// Bad records a problem at path, with the fix in the message.
	Bad(path, format string, args ...any)
	// FromEnv reports whether the value at path was written as ${NAME}.
	FromEnv(path string) bool
	// Redact hides the config's secrets in s.
	Redact(s string) string
}

// Table modes shared by sources.
const (
	ModeCDC         = "cdc"
	ModeFullRefresh = "full_refresh"
)

// Captured is what a source says about one table it fills.
type Captured struct {
	Mode   string   // ModeCDC or ModeFullRefresh
	Retain Duration // how long the lake keeps its history; 0: forever
}

// CheckRetain reports a retention under a day: the lake drops whole days.
func CheckRetain(v Checker, path string, d Duration) {
	if d != 0 && d < Duration(24*time.Hour) {
		v.Bad(path, "%s is less than a day; the lake drops whole days (write e.g. 400d)", time.Duration(d))
	}
}

// RedactURL hides the password of a URL-shaped connection string in msg
// (a parse error may quote the whole string).
func RedactURL(msg, secret string) string {
	if u, err := url.Parse(secret); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "***")
		}
	}
	return msg
}
