package httpapi

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/connectors/conf"
)

// Config is an HTTP source: it pulls records from a JSON API, incrementally by an updated-at
// cursor (or in full each run).
type Config struct {
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"` // use ${ENV} for secrets
	Params  map[string]string `yaml:"params"`  // query parameters on every request
	// Records is a JSON pointer to the array of records in a response
	// body ("" = the body is the array).
	Records    string   `yaml:"records"`
	PrimaryKey []string `yaml:"primary_key"`
	Cursor     Cursor   `yaml:"cursor"`
	Pagination Pages    `yaml:"pagination"`
	// RateLimit is "N/s", "N/m" or "N/h": requests at most that often.
	RateLimit    string        `yaml:"rate_limit"`
	PollInterval conf.Duration `yaml:"poll_interval"`
	// Mode is incremental (by cursor) or full_refresh (everything each
	// run; the new copy replaces the old one).
	Mode string `yaml:"mode"`
	// Timeout bounds one request; MaxRetries failed attempts of one
	// request are retried with exponential backoff and jitter.
	Timeout    conf.Duration `yaml:"timeout"`
	MaxRetries int           `yaml:"max_retries"`
	// Schema declares field types instead of inferring them:
	// int, float, decimal(p,s), string, bool, timestamp, date, json.
	Schema map[string]string `yaml:"schema"`
	// CreatedField, if set, names the field holding the creation time:
	// a record whose cursor equals it is emitted as op c, others as u.
	CreatedField string `yaml:"created_field"`
	// Retain keeps this stream's history in the lake for that long (e.g.
	// 400d); zero keeps it forever.
	Retain conf.Duration `yaml:"retain"`
}

// Cursor is the field records are ordered and filtered by.
type Cursor struct {
	Field string `yaml:"field"` // in each record
	Param string `yaml:"param"` // query parameter for the lower bound
	// Format: rfc3339, unix (seconds), unix_ms, integer or string.
	Format string `yaml:"format"`
	// Lookback re-reads this much before the cursor each poll, to catch
	// late-arriving updates (time formats only).
	Lookback conf.Duration `yaml:"lookback"`
}

// Pages is how a response points at the next page.
type Pages struct {
	// Type: page, offset, cursor, link or none.
	Type        string `yaml:"type"`
	PageParam   string `yaml:"page_param"`   // page: page number (from 1)
	SizeParam   string `yaml:"size_param"`   // page: page size
	Size        int    `yaml:"size"`         // page, offset: records per request
	OffsetParam string `yaml:"offset_param"` // offset
	LimitParam  string `yaml:"limit_param"`  // offset
	TokenPath   string `yaml:"token_path"`   // cursor: JSON pointer to the next token ("" or null: last page)
	TokenParam  string `yaml:"token_param"`  // cursor: parameter that carries it
}

// Cursor formats and HTTP modes.
const (
	CursorRFC3339 = "rfc3339"
	CursorUnix    = "unix"
	CursorUnixMs  = "unix_ms"
	CursorInteger = "integer"
	CursorString  = "string"
	Incremental   = "incremental"
)

var (
	rateRe   = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*/\s*(s|m|h)\s*$`)
	declType = regexp.MustCompile(`^(int|float|string|bool|timestamp|date|json|decimal\(([0-9]+),\s*([0-9]+)\))$`)
	pointer  = regexp.MustCompile(`^(/[^/]*)*$`)
)

// ParseRate parses "10/s" into requests per second.
func ParseRate(s string) (float64, error) {
	m := rateRe.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a rate; write e.g. 10/s, 100/m or 1000/h", s)
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	per := map[string]float64{"s": 1, "m": 60, "h": 3600}[m[2]]
	if n <= 0 {
		return 0, fmt.Errorf("%q: the rate must be above 0", s)
	}
	return n / per, nil
}

// Validate reports the source's problems; p is its key path
// ("sources[0].http").
func (h *Config) Validate(p string, v conf.Checker) {
	bad := v.Bad
	if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(p+".url", "%q is not an http(s) URL; write e.g. url: \"https://api.example.com/v2/tickets\"", v.Redact(h.URL))
	}
	if !pointer.MatchString(h.Records) {
		bad(p+".records", "%q is not a JSON pointer; write \"/data\" (or \"\" when the body is the array)", h.Records)
	}
	if len(h.PrimaryKey) == 0 {
		bad(p+".primary_key", "missing; list the fields that identify a record, e.g. [id]")
	}
	switch h.Mode {
	case Incremental:
		if h.Cursor.Field == "" {
			bad(p+".cursor.field", "missing; incremental mode needs the record field that grows on every change, e.g. updated_at (or set mode: full_refresh)")
		}
		if h.Cursor.Param == "" {
			bad(p+".cursor.param", "missing; name the query parameter that takes the lower bound, e.g. updated_since")
		}
	case conf.ModeFullRefresh:
	default:
		bad(p+".mode", "%q: use incremental or full_refresh", h.Mode)
	}
	switch h.Cursor.Format {
	case CursorRFC3339, CursorUnix, CursorUnixMs:
	case CursorInteger, CursorString:
		if h.Cursor.Lookback != 0 {
			bad(p+".cursor.lookback", "applies to time cursors (rfc3339, unix, unix_ms), not %s", h.Cursor.Format)
		}
	default:
		bad(p+".cursor.format", "%q: use rfc3339, unix, unix_ms, integer or string", h.Cursor.Format)
	}
	pg := h.Pagination
	switch pg.Type {
	case "page":
		if pg.PageParam == "" {
			bad(p+".pagination.page_param", "missing; name the page number parameter, e.g. page")
		}
	case "offset":
		if pg.OffsetParam == "" || pg.LimitParam == "" {
			bad(p+".pagination", "offset pagination needs offset_param and limit_param, e.g. offset and limit")
		}
	case "cursor":
		if pg.TokenParam == "" || !pointer.MatchString(pg.TokenPath) || pg.TokenPath == "" {
			bad(p+".pagination", "cursor pagination needs token_path (a JSON pointer, e.g. /next) and token_param (e.g. page_token)")
		}
	case "link", "none":
	default:
		bad(p+".pagination.type", "%q: use page, offset, cursor, link or none", pg.Type)
	}
	if (pg.Type == "page" || pg.Type == "offset") && pg.Size < 1 {
		bad(p+".pagination.size", "must be at least 1")
	}
	if h.RateLimit != "" {
		if _, err := ParseRate(h.RateLimit); err != nil {
			bad(p+".rate_limit", "%v", err)
		}
	}
	if h.PollInterval < conf.Duration(time.Second) {
		bad(p+".poll_interval", "must be at least 1s")
	}
	conf.CheckRetain(v, p+".retain", h.Retain)
	if h.MaxRetries < 0 {
		bad(p+".max_retries", "must be 0 or more")
	}
	for f, t := range h.Schema {
		if !declType.MatchString(strings.TrimSpace(t)) {
			bad(p+".schema."+f, "%q: use int, float, decimal(p,s), string, bool, timestamp, date or json", t)
		}
	}
}

// Defaults fills what the file left out (an HTTP source has no
// server-side name, so the default name is unused).
func (h *Config) Defaults(string) {
	if h.Mode == "" {
		h.Mode = Incremental
	}
	if h.Cursor.Format == "" {
		h.Cursor.Format = CursorRFC3339
	}
	if h.Pagination.Type == "" {
		h.Pagination.Type = "none"
	}
	if h.Pagination.Size == 0 {
		h.Pagination.Size = 100
	}
	if h.PollInterval == 0 {
		h.PollInterval = conf.Duration(time.Minute)
	}
	if h.Timeout == 0 {
		h.Timeout = conf.Duration(30 * time.Second)
	}
	if h.MaxRetries == 0 {
		h.MaxRetries = 5
	}
}

// Captures maps the one table the source fills (public.<source>, its name
// in the lake and ClickHouse) to its mode (cdc when incremental) and
// retention.
func (h *Config) Captures(source string) map[string]conf.Captured {
	mode := conf.ModeCDC
	if h.Mode == conf.ModeFullRefresh {
		mode = conf.ModeFullRefresh
	}
	return map[string]conf.Captured{"public." + source: {Mode: mode, Retain: h.Retain}}
}
