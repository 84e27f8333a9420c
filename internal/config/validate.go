package config

import (
	"github.com/robfig/cron/v3"

	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

var nameRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// Validate returns every problem in the config, each naming the file, line,
// key and fix; nil when the config is usable.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", c.file, c.Line(path), path, fmt.Sprintf(format, args...)))
	}
	if c.Pipeline == "" {
		bad("pipeline", "missing; name the pipeline, e.g. pipeline: shop")
	} else if !nameRe.MatchString(c.Pipeline) {
		bad("pipeline", "%q must be lower case letters, digits and _ (it names Kafka topics and replication slots)", c.Pipeline)
	}
	if k := c.Kafka; k != nil {
		if k.Retention < 0 || k.SegmentMB < 0 {
			bad("kafka.retention", "retention and segment_mb must be positive")
		}
		if len(k.Brokers) > 0 && (k.Retention > 0 || k.SegmentMB > 0) {
			bad("kafka.retention", "retention and segment_mb bound the embedded broker; with brokers, set retention on the cluster's topics (retention.ms) and remove them here")
		}
		for i, b := range k.Brokers {
			if _, _, err := net.SplitHostPort(b); err != nil {
				bad(fmt.Sprintf("kafka.brokers[%d]", i), "%q is not host:port", b)
			}
		}
		if k.Partitions < 1 {
			bad("kafka.partitions", "must be at least 1")
		}
		switch k.Compression {
		case "none", "snappy", "lz4", "zstd":
		default:
			bad("kafka.compression", "%q: use none, snappy, lz4 or zstd", k.Compression)
		}
		errs = append(errs, c.validateTLS("kafka.tls", k.TLS)...)
		errs = append(errs, c.validateSASL("kafka.sasl", k.SASL, k.TLS != nil)...)
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
		switch {
		case s.Postgres != nil && s.HTTP != nil:
			bad(p, "both postgres and http; a source has one kind, split it into two sources")
		case s.Postgres != nil:
			errs = append(errs, c.validatePostgres(p+".postgres", s.Postgres)...)
		case s.HTTP != nil:
			errs = append(errs, c.validateHTTP(p+".http", s.HTTP)...)
		default:
			bad(p, "no source kind; add a postgres: or http: section")
		}
	}
	// An HTTP source's stream is named after the source in the lake and
	// ClickHouse, like a Postgres table in the public schema.
	pgTables := map[string]bool{}
	for _, s := range c.Sources {
		if s.Postgres != nil {
			for _, t := range s.Postgres.Tables {
				if n, err := ParseTableName(t.Name); err == nil && n.Schema == "public" {
					pgTables[n.Table] = true
				}
			}
		}
	}
	for i, s := range c.Sources {
		if s.HTTP != nil && pgTables[s.Name] {
			bad(fmt.Sprintf("sources[%d].name", i), "%q is also the name of a captured table public.%s; both would land in the same lake and ClickHouse table: rename the source", s.Name, s.Name)
		}
	}
	if c.Lake == nil && c.ClickHouse == nil {
		bad("lake", "no sinks; configure lake, clickhouse or both")
	}
	if l := c.Lake; l != nil {
		if _, err := LakeDir(l.Path); err != nil {
			bad("lake.path", "%v", err)
		}
		if l.CheckpointInterval < 0 {
			bad("lake.checkpoint_interval", "%d: must be a positive number of commits (default 100)", l.CheckpointInterval)
		}
		if l.LogRetention < 0 || l.DeletedFileRetention < 0 {
			bad("lake.log_retention", "retentions cannot be negative")
		}
		if l.TargetFileMB < 0 {
			bad("lake.target_file_mb", "%d: must be positive (default 128)", l.TargetFileMB)
		}
		names := map[string]bool{}
		for _, src := range c.Sources {
			if src.HTTP != nil {
				names[src.Name] = true
			}
			if src.Postgres != nil {
				for _, t := range src.Postgres.Tables {
					if n, err := ParseTableName(t.Name); err == nil {
						names[n.String()] = true
					}
				}
			}
		}
		for name, d := range l.Retain {
			if !names[name] {
				hint := "name a captured table as schema.table, or an HTTP source by its name"
				if n, err := ParseTableName(name); err == nil && names[n.String()] {
					hint = "write it " + n.String()
				}
				bad("lake.retain", "%s is not a table of this pipeline: %s", name, hint)
			}
			if d < Duration(24*time.Hour) {
				bad("lake.retain", "%s: %s is less than a day; the lake drops whole days (write e.g. 400d)", name, time.Duration(d))
			}
		}
		ownRetain := func(key, name string, d Duration) {
			if d == 0 {
				return
			}
			if d < Duration(24*time.Hour) {
				bad(key, "%s is less than a day; the lake drops whole days (write e.g. 400d)", time.Duration(d))
			}
			if _, dup := l.Retain[name]; dup {
				bad("lake.retain", "%s also sets retain on the table itself (%s); keep only the table's key (lake.retain is deprecated)", name, key)
			}
		}
		for _, src := range c.Sources {
			if src.Postgres != nil {
				for i, t := range src.Postgres.Tables {
					ownRetain(fmt.Sprintf("sources[%s].postgres.tables[%d].retain", src.Name, i), t.TableName().String(), t.Retain)
				}
			}
			if src.HTTP != nil {
				ownRetain(fmt.Sprintf("sources[%s].http.retain", src.Name), src.Name, src.HTTP.Retain)
			}
		}
	}
	if ch := c.ClickHouse; ch != nil {
		if _, _, err := net.SplitHostPort(ch.Addr); err != nil {
			bad("clickhouse.addr", "%q is not host:port (the native protocol port, usually 9000)", ch.Addr)
		}
		if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(ch.Database) {
			bad("clickhouse.database", "%q is not a plain identifier; write e.g. database: shop", ch.Database)
		}
		if ch.Cluster != "" && !regexp.MustCompile(`^[A-Za-z0-9_.-]+$`).MatchString(ch.Cluster) {
			bad("clickhouse.cluster", "%q is not a cluster name; write the name from the servers' remote_servers, e.g. cluster: analytics", ch.Cluster)
		}
		switch ch.OutOfRange {
		case "", OutOfRangeClamp, OutOfRangeNull, OutOfRangeFail:
		default:
			bad("clickhouse.out_of_range", "%q is not a policy; write clamp (default), null or fail", ch.OutOfRange)
		}
		if ch.Password != "" && !c.fromEnv("clickhouse.password") {
			bad("clickhouse.password", "written in the file; secrets come from the environment only: write password: \"${CLICKHOUSE_PASSWORD}\" and export CLICKHOUSE_PASSWORD")
		}
		if ch.Password != "" && ch.Username == "" {
			bad("clickhouse.username", "missing while a password is set; write the user, e.g. username: inlet")
		}
		errs = append(errs, c.validateTLS("clickhouse.tls", ch.TLS)...)
		errs = append(errs, c.validateSummaries(ch)...)
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
	if c.Capture.SplitAfter > Duration(4*time.Minute) {
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
	errs = append(errs, c.validateObserve()...)
	return errors.Join(errs...)
}

func (c *Config) validatePostgres(p string, pg *Postgres) []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", c.file, c.Line(path), path, fmt.Sprintf(format, args...)))
	}
	if pg.DSN == "" {
		bad(p+".dsn", "missing; write the connection string, e.g. dsn: \"postgres://inlet@127.0.0.1:5432/shop\"")
	} else if _, err := pgx.ParseConfig(pg.DSN); err != nil {
		bad(p+".dsn", "not a valid Postgres connection string: %v", redact(err.Error(), pg.DSN))
	}
	if len(pg.Tables) == 0 {
		bad(p+".tables", "empty; list tables as schema.table")
	}
	seen := map[string]bool{}
	for i, t := range pg.Tables {
		tp := fmt.Sprintf("%s.tables[%d]", p, i)
		if t.Name == "" {
			bad(tp+".name", "missing; write the table as schema.table")
			continue
		}
		n, err := ParseTableName(t.Name)
		if err != nil {
			bad(tp, "%v", err)
			continue
		}
		if seen[n.String()] {
			bad(tp, "%s is listed twice", n)
		}
		seen[n.String()] = true
		switch t.Mode {
		case ModeCDC:
			if t.Interval != 0 || t.Schedule != "" {
				bad(tp+".mode", "interval and schedule apply to mode: full_refresh; remove them or set mode: full_refresh")
			}
		case ModeFullRefresh:
			if t.Interval != 0 && t.Schedule != "" {
				bad(tp+".schedule", "set interval or schedule, not both")
			}
			if t.Interval == 0 && t.Schedule == "" {
				bad(tp+".mode", "full_refresh needs interval (e.g. 1h) or schedule (cron, e.g. \"0 3 * * *\")")
			}
			if t.Snapshot != "initial" {
				bad(tp+".snapshot", "full_refresh tables always copy; remove snapshot")
			}
		default:
			bad(tp+".mode", "%q is not a mode; use cdc or full_refresh", t.Mode)
		}
		if t.Snapshot != "initial" && t.Snapshot != "never" {
			bad(tp+".snapshot", "%q: use initial or never", t.Snapshot)
		}
		if t.Schedule != "" {
			if _, err := cron.ParseStandard(t.Schedule); err != nil {
				bad(tp+".schedule", "%q is not a cron expression (minute hour day month weekday): %v", t.Schedule, err)
			}
		}
		if t.ChunkRows < 1 {
			bad(tp+".chunk_rows", "must be at least 1")
		}
		if t.Workers < 1 || t.Workers > 64 {
			bad(tp+".workers", "must be between 1 and 64")
		}
	}
	if !slotRe.MatchString(pg.Slot) {
		bad(p+".slot", "%q is not a valid replication slot name (lower case letters, digits, _; at most 63)", pg.Slot)
	}
	for i, col := range pg.TextColumns {
		if strings.Count(col, ".") != 2 {
			bad(fmt.Sprintf("%s.text_columns[%d]", p, i), "%q must be schema.table.column", col)
		}
	}
	return errs
}

var slotRe = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

func redact(msg, secret string) string {
	if u, err := url.Parse(secret); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "***")
		}
	}
	return msg
}

// LakeDir returns the local directory of a lake path (file:// URL or path).
func LakeDir(path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("missing; write e.g. path: \"file:///var/lib/inlet/lake\"")
	}
	if !strings.Contains(path, "://") {
		return path, nil
	}
	u, err := url.Parse(path)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid URL: %v", path, err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("%q: file URLs need three slashes and an absolute path, e.g. file:///var/lib/inlet/lake", path)
		}
		if u.Path == "" {
			return "", fmt.Errorf("%q has no path", path)
		}
		return u.Path, nil
	default:
		return "", fmt.Errorf("%q: scheme %q is not supported yet; use file:///path", path, u.Scheme)
	}
}
