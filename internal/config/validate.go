package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/jackc/pgx/v5"
)

// nameRe is the rule for names that end up in topics, slots and tables
// (pipeline and source names): lower case letters, digits and _.
var nameRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// checker is the conf.Checker sections validate through: problems become
// "file:line: path: message".
type checker struct {
	c    *Config
	errs []error
}

func (k *checker) Bad(path, format string, args ...any) {
	k.errs = append(k.errs, fmt.Errorf("%s:%d: %s: %s", k.c.file, k.c.Line(path), path, fmt.Sprintf(format, args...)))
}
func (k *checker) FromEnv(path string) bool { return k.c.fromEnv(path) }
func (k *checker) Redact(s string) string   { return k.c.Redact(s) }

// Validate returns every problem in the config, each naming the file, line,
// key and fix; nil when the config is usable.
func (c *Config) Validate() error {
	chk := &checker{c: c}
	bad := chk.Bad
	if c.Pipeline == "" {
		bad("pipeline", "missing; name the pipeline, e.g. pipeline: shop")
	} else if !nameRe.MatchString(c.Pipeline) {
		bad("pipeline", "%q must be lower case letters, digits and _ (it names Kafka topics and replication slots)", c.Pipeline)
	}
	if k := c.Kafka; k != nil {
		k.Validate(chk)
	}
	if len(c.Sources) == 0 {
		bad("sources", "no sources; add one, e.g. a postgres source with dsn and tables")
	}
	names := map[string]bool{}
	for i, s := range c.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		switch {
		case s.Name == "":
			bad(p+".name", "missing; give the source a name, e.g. name: pg")
		case !nameRe.MatchString(s.Name):
			bad(p+".name", "%q must be lower case letters, digits and _", s.Name)
		case names[s.Name]:
			bad(p+".name", "%q is used by another source; names must be unique", s.Name)
		}
		names[s.Name] = true
		keys, kinds := s.kinds()
		switch len(kinds) {
		case 0:
			bad(p, "no source kind; add a postgres: or http: section")
		case 1:
			kinds[0].Validate(p+"."+keys[0], chk)
		default:
			bad(p, "both %s; a source has one kind, split it into separate sources", strings.Join(keys, " and "))
		}
	}
	// Two sources must not fill one lake and ClickHouse table (an HTTP
	// source's stream is public.<source>, like a Postgres table).
	owner := map[string]string{}
	for _, cp := range c.captures() {
		name := c.Sources[cp.source].Name
		if o, ok := owner[cp.table]; ok && o != name {
			bad(fmt.Sprintf("sources[%d].name", cp.source), "%s is also captured by source %q; both would land in the same lake and ClickHouse table: rename the source or capture the table once", cp.table, o)
		}
		owner[cp.table] = name
	}
	if c.Lake == nil && c.ClickHouse == nil {
		bad("lake", "no sinks; configure lake, clickhouse or both")
	}
	if l := c.Lake; l != nil {
		l.Validate(chk)
		names := c.capturedModes()
		for name := range l.Retain {
			if _, ok := names[name]; !ok {
				hint := "name a captured table as schema.table (an HTTP source's stream as public.<source>)"
				if n, err := conf.ParseTableName(name); err == nil && names[n.String()] != "" {
					hint = "write it " + n.String()
				}
				bad("lake.retain", "%s is not a table of this pipeline: %s", name, hint)
			}
		}
		for _, cp := range c.captures() {
			if _, dup := l.Retain[cp.table]; dup && cp.Retain > 0 {
				bad("lake.retain", "%s also sets retain on the table itself (in sources[%d]); keep only the table's key (lake.retain is deprecated)", cp.table, cp.source)
			}
		}
	}
	if ch := c.ClickHouse; ch != nil {
		ch.Validate(chk)
		c.checkSummarySources(chk)
	}
	if p := c.Checkpoints.Postgres; p != nil {
		if p.DSN == "" {
			bad("checkpoints.postgres.dsn", "missing; write the connection string of the database for the checkpoint table")
		} else if _, err := pgx.ParseConfig(p.DSN); err != nil {
			bad("checkpoints.postgres.dsn", "not a valid Postgres connection string: %v", redact(err.Error(), p.DSN))
		}
		if !regexp.MustCompile(`^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$`).MatchString(p.Table) {
			bad("checkpoints.postgres.table", "%q: use a plain lower-case table name, optionally schema-qualified", p.Table)
		}
	}
	if c.Capture.SplitAfter > conf.Duration(4*time.Minute) {
		bad("capture.split_after", "must stay under the 5m Kafka transaction timeout; use at most 4m")
	}
	if c.Engine.BatchRecords < 0 {
		bad("engine.batch_records", "must be at least 1 (or left out for the default)")
	}
	if c.Engine.BatchBytes < 0 {
		bad("engine.batch_bytes", "must be at least 1 (or left out for the default)")
	}
	if c.Engine.BatchWait < 0 {
		bad("engine.batch_wait", "must be positive (or left out for the default)")
	}
	if c.Engine.ConsumerGroup && !c.ExternalKafka() {
		bad("engine.consumer_group", "engines in a consumer group share an external broker; set kafka.brokers (inlet broker runs one for development)")
	}
	if c.Engine.ConsumerGroup && c.Checkpoints.Postgres == nil {
		bad("engine.consumer_group", "engines in a consumer group share their checkpoints; set checkpoints.postgres")
	}
	if id := c.Engine.InstanceID; id != "" {
		if !c.Engine.ConsumerGroup {
			bad("engine.instance_id", "names an engine in a consumer group; set engine.consumer_group or remove it")
		}
		if !instanceIDRe.MatchString(id) {
			bad("engine.instance_id", "%q: use at most 249 letters, digits, '.', '_' and '-' (Kafka's rule for group.instance.id), e.g. ${HOSTNAME}", id)
		}
	}
	chk.errs = append(chk.errs, c.validateObserve()...)
	return errors.Join(chk.errs...)
}

// instanceIDRe is Kafka's rule for a group.instance.id (as for topic names).
var instanceIDRe = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func redact(msg, secret string) string {
	if u, err := url.Parse(secret); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "***")
		}
	}
	return msg
}
