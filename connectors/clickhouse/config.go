package clickhouse

import (
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/inlet-dev/inlet/connectors/conf"
)

// Config is the ClickHouse sink's section of a pipeline file.
type Config struct {
	Addr     string `yaml:"addr"`
	Database string `yaml:"database"`
	Username string `yaml:"username"`
	Password string `yaml:"password"` // from the environment: "${CLICKHOUSE_PASSWORD}"
	// TLS connects to the secure native port (9440 usually).
	TLS *conf.TLS `yaml:"tls"`
	// Summaries are GROUP BY tables kept correct as the mirrors change.
	Summaries []Summary `yaml:"summaries"`
	// OutOfRange says what to do with a value the server's column type
	// cannot hold (a date before 1970 on 18.16, infinity, NaN in a
	// Decimal): clamp (default), null, or fail. See docs/types.md.
	OutOfRange string `yaml:"out_of_range"`
	// DropColumns drops a mirror column when its source column is dropped
	// (default false: the column stays, NULL from then on, like the lake's).
	// See docs/schema-changes.md.
	DropColumns bool `yaml:"drop_columns"`
	// Cluster names a cluster of the server's remote_servers: mirrors and
	// summaries become Replicated tables on every shard, created ON
	// CLUSTER, read and written through Distributed tables of the usual
	// names. See docs/clickhouse-cluster.md.
	Cluster string `yaml:"cluster"`
}

// Out-of-range policies of the ClickHouse sink.
const (
	OutOfRangeClamp = "clamp"
	OutOfRangeNull  = "null"
	OutOfRangeFail  = "fail"
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
	Refresh  string        `yaml:"refresh"`
	Interval conf.Duration `yaml:"interval"`
	// OnCheckFailure is warn (record an incident, go on) or stop (record
	// an incident and stop the engine until an operator looks).
	OnCheckFailure string `yaml:"on_check_failure"`
}

var (
	clusterRe  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
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

// Defaults fills what the file left out. fullRefresh reports whether a
// captured table (schema.table) is copied whole each run: its summaries
// are rebuilt after each copy rather than refreshed incrementally.
func (ch *Config) Defaults(fullRefresh func(table string) bool) {
	for i := range ch.Summaries {
		s := &ch.Summaries[i]
		if s.Refresh == "" {
			s.Refresh = RefreshIncremental
			if n, err := conf.ParseTableName(s.From); err == nil && fullRefresh(n.String()) {
				s.Refresh = RefreshFull
			}
		}
		if s.OnCheckFailure == "" {
			s.OnCheckFailure = "warn"
		}
	}
}

// Validate reports the section's problems ("clickhouse..." paths). That a
// summary's from names a captured table is checked by the pipeline's
// config, which knows the sources.
func (ch *Config) Validate(v conf.Checker) {
	bad := v.Bad
	if _, _, err := net.SplitHostPort(ch.Addr); err != nil {
		bad("clickhouse.addr", "%q is not host:port (the native protocol port, usually 9000)", ch.Addr)
	}
	if !identRe.MatchString(ch.Database) {
		bad("clickhouse.database", "%q is not a plain identifier; write e.g. database: shop", ch.Database)
	}
	if ch.Cluster != "" && !clusterRe.MatchString(ch.Cluster) {
		bad("clickhouse.cluster", "%q is not a cluster name; write the name from the servers' remote_servers, e.g. cluster: analytics", ch.Cluster)
	}
	switch ch.OutOfRange {
	case "", OutOfRangeClamp, OutOfRangeNull, OutOfRangeFail:
	default:
		bad("clickhouse.out_of_range", "%q is not a policy; write clamp (default), null or fail", ch.OutOfRange)
	}
	if ch.Password != "" && !v.FromEnv("clickhouse.password") {
		bad("clickhouse.password", "written in the file; secrets come from the environment only: write password: \"${CLICKHOUSE_PASSWORD}\" and export CLICKHOUSE_PASSWORD")
	}
	if ch.Password != "" && ch.Username == "" {
		bad("clickhouse.username", "missing while a password is set; write the user, e.g. username: inlet")
	}
	ch.TLS.Validate("clickhouse.tls", v)
	ch.validateSummaries(v)
}

func (ch *Config) validateSummaries(v conf.Checker) {
	bad := v.Bad
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
		} else if _, err := conf.ParseTableName(s.From); err != nil {
			bad(p+".from", "%v", err)
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
}
