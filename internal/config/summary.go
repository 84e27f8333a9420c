package config

import (
	"fmt"
	"regexp"
	"strings"
)

// Summary refresh modes.
const (
	RefreshIncremental = "incremental"
	RefreshFull        = "full"
)

// Summary is a ClickHouse summary table computed from a mirror: a GROUP BY
// of the mirror's current rows, kept correct as rows change upstream.
type Summary struct {
	// Name is the summary table's name in clickhouse.database.
	Name string `yaml:"name"`
	// From is the captured source table (schema.table) it summarizes.
	From string `yaml:"from"`
	// Dimensions are the GROUP BY columns: ClickHouse expressions over the
	// source columns, each a column name or "expr AS name".
	Dimensions []string `yaml:"dimensions"`
	// Measures are aggregates, each "aggregate(...) AS name".
	Measures []string `yaml:"measures"`
	// Where filters source rows (a ClickHouse condition), optional.
	Where string `yaml:"where"`
	// PartitionBy is a dimension name (or an expression over dimension
	// names) that partitions the summary; an incremental refresh
	// recomputes only the partitions a batch touched. Empty: one partition.
	PartitionBy string `yaml:"partition_by"`
	// Refresh is incremental (after each batch, the touched partitions) or
	// full (rebuild everything, at most every Interval).
	Refresh  string   `yaml:"refresh"`
	Interval Duration `yaml:"interval"`
	// OnCheckFailure is warn (record an incident, go on) or stop (record
	// an incident and stop the engine until an operator looks).
	OnCheckFailure string `yaml:"on_check_failure"`
}

var (
	identRe    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	aliasRe    = regexp.MustCompile("(?is)^(.*\\S)\\s+AS\\s+(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)\\s*$")
	summaryRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	reservedRe = regexp.MustCompile(`^_inlet`)
)

// SplitAlias splits "expr AS name" into expr and name; a bare identifier
// is its own name. ok is false when the expression has no name.
func SplitAlias(s string) (expr, name string, ok bool) {
	s = strings.TrimSpace(s)
	if m := aliasRe.FindStringSubmatch(s); m != nil && balanced(m[1]) {
		return strings.TrimSpace(m[1]), strings.Trim(m[2], "`"), true
	}
	if identRe.MatchString(s) {
		return s, s, true
	}
	return s, "", false
}

// balanced reports whether parentheses and quotes in s are closed, so an
// " AS " found after it is at the top level of the expression.
func balanced(s string) bool {
	depth, quote := 0, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '`' || c == '"':
			quote = c
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		}
	}
	return depth == 0 && quote == 0
}

func (c *Config) validateSummaries(ch *ClickHouse) []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", c.file, c.Line(path), path, fmt.Sprintf(format, args...)))
	}
	modes := c.capturedModes()
	names := map[string]bool{}
	for i, s := range ch.Summaries {
		p := fmt.Sprintf("clickhouse.summaries[%d]", i)
		switch {
		case s.Name == "":
			bad(p+".name", "missing; name the summary table, e.g. name: orders_daily")
		case !summaryRe.MatchString(s.Name) || reservedRe.MatchString(s.Name):
			bad(p+".name", "%q must be letters, digits and _ (not starting with _inlet)", s.Name)
		case names[s.Name]:
			bad(p+".name", "%q is used by another summary; names must be unique", s.Name)
		case strings.HasSuffix(s.Name, "_current"):
			bad(p+".name", "%q ends in _current, which names mirror views; pick another name", s.Name)
		}
		names[s.Name] = true
		if s.From == "" {
			bad(p+".from", "missing; write the captured table it summarizes, e.g. from: public.orders")
		} else if n, err := ParseTableName(s.From); err != nil {
			bad(p+".from", "%v", err)
		} else if mode, ok := modes[n.String()]; !ok {
			bad(p+".from", "%s is not captured by any source; add it to a source's tables", n)
		} else if mode == ModeFullRefresh && s.Refresh == RefreshIncremental {
			bad(p+".refresh", "%s is a full_refresh table, so its summaries are rebuilt after each refresh; set refresh: full", n)
		}
		cols := map[string]bool{}
		if len(s.Dimensions) == 0 {
			bad(p+".dimensions", "empty; list the GROUP BY columns, e.g. [\"toDate(created_at) AS day\", \"status\"]")
		}
		for j, d := range s.Dimensions {
			_, name, ok := SplitAlias(d)
			dp := fmt.Sprintf("%s.dimensions[%d]", p, j)
			switch {
			case !ok:
				bad(dp, "%q has no name; write it as \"expr AS name\"", d)
			case strings.HasPrefix(name, "_"):
				bad(dp, "%q: names starting with _ are reserved for Inlet's columns", name)
			case cols[name]:
				bad(dp, "%q is used twice; dimension and measure names must be unique", name)
			}
			cols[name] = true
		}
		if len(s.Measures) == 0 {
			bad(p+".measures", "empty; list aggregates, e.g. [\"count() AS orders\", \"sum(amount) AS revenue\"]")
		}
		for j, m := range s.Measures {
			expr, name, ok := SplitAlias(m)
			mp := fmt.Sprintf("%s.measures[%d]", p, j)
			switch {
			case !ok || expr == name:
				bad(mp, "%q needs an aggregate and a name; write it as \"sum(amount) AS revenue\"", m)
			case strings.HasPrefix(name, "_"):
				bad(mp, "%q: names starting with _ are reserved for Inlet's columns", name)
			case cols[name]:
				bad(mp, "%q is used twice; dimension and measure names must be unique", name)
			}
			cols[name] = true
		}
		if pb := strings.TrimSpace(s.PartitionBy); pb != "" && !balanced(pb) {
			bad(p+".partition_by", "%q has unbalanced parentheses or quotes", pb)
		} else if pb != "" && identRe.MatchString(pb) && !cols[pb] {
			bad(p+".partition_by", "%q is not one of the summary's dimensions; partition by a dimension name (e.g. day)", pb)
		}
		switch s.Refresh {
		case RefreshIncremental:
			if s.Interval != 0 {
				bad(p+".interval", "applies to refresh: full; remove it or set refresh: full")
			}
		case RefreshFull:
		default:
			bad(p+".refresh", "%q: use incremental or full", s.Refresh)
		}
		if s.OnCheckFailure != "warn" && s.OnCheckFailure != "stop" {
			bad(p+".on_check_failure", "%q: use warn or stop", s.OnCheckFailure)
		}
	}
	return errs
}

// capturedModes maps every captured table (schema.table; an HTTP source's
// stream as public.<source>, where its tables live) to its mode, cdc or
// full_refresh.
func (c *Config) capturedModes() map[string]string {
	modes := map[string]string{}
	for _, src := range c.Sources {
		if h := src.HTTP; h != nil {
			modes["public."+src.Name] = ModeCDC
			if h.Mode == ModeFullRefresh {
				modes["public."+src.Name] = ModeFullRefresh
			}
		}
		if src.Postgres == nil {
			continue
		}
		for _, t := range src.Postgres.Tables {
			if n, err := ParseTableName(t.Name); err == nil {
				modes[n.String()] = t.Mode
			}
		}
	}
	return modes
}

// applySummaryDefaults: incremental refresh (full for full_refresh
// tables, whose copies are swapped whole), warn on check failures.
func (c *Config) applySummaryDefaults() {
	if c.ClickHouse == nil {
		return
	}
	modes := c.capturedModes()
	for i := range c.ClickHouse.Summaries {
		s := &c.ClickHouse.Summaries[i]
		if s.Refresh == "" {
			s.Refresh = RefreshIncremental
			if n, err := ParseTableName(s.From); err == nil && modes[n.String()] == ModeFullRefresh {
				s.Refresh = RefreshFull
			}
		}
		if s.OnCheckFailure == "" {
			s.OnCheckFailure = "warn"
		}
	}
}
