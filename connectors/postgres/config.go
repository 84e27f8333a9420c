package postgres

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/inlet-dev/inlet/connectors/conf"
)

// Config is a Postgres source: it captures tables through logical replication (pgoutput).
type Config struct {
	DSN         string  `yaml:"dsn"`
	Tables      []Table `yaml:"tables"`
	Publication string  `yaml:"publication"` // default inlet_<pipeline>_<source>
	Slot        string  `yaml:"slot"`        // default inlet_<pipeline>_<source>
	// TextColumns lists "schema.table.column" whose type Inlet does not map
	// natively; they are carried as their Postgres text form.
	TextColumns []string `yaml:"text_columns"`
	// HeartbeatInterval is how often a heartbeat WAL message is written and
	// slot retention is checked.
	HeartbeatInterval conf.Duration `yaml:"heartbeat_interval"`
	// MaxRetainedWALMB warns when the slot retains more WAL than this.
	MaxRetainedWALMB int `yaml:"max_retained_wal_mb"`
	// SnapshotChunkRows is how many rows one snapshot chunk copies; each
	// chunk is committed to Kafka with its progress.
	SnapshotChunkRows int `yaml:"snapshot_chunk_rows"`
	// SnapshotWorkers is how many connections copy chunks in parallel.
	SnapshotWorkers int `yaml:"snapshot_workers"`
}

// Table is one captured table. In YAML it is either a bare name
// (public.orders) or an object with a name and options.
type Table struct {
	Name string `yaml:"name"`
	// Mode is cdc (snapshot, then every change from the WAL) or
	// full_refresh (a consistent copy replaces the previous one each run).
	Mode string `yaml:"mode"`
	// Snapshot is initial (copy existing rows first) or never (cdc only:
	// changes from now on).
	Snapshot string `yaml:"snapshot"`
	// ChunkRows is the rows per snapshot or backfill chunk; default the
	// source's snapshot_chunk_rows.
	ChunkRows int `yaml:"chunk_rows"`
	// Workers is how many connections copy snapshot chunks in parallel;
	// default the source's snapshot_workers.
	Workers int `yaml:"workers"`
	// Interval is how often a full_refresh table is copied again.
	Interval conf.Duration `yaml:"interval"`
	// Schedule is a cron expression (minute hour day month weekday, UTC)
	// for full_refresh tables, instead of interval.
	Schedule string `yaml:"schedule"`
	// Retain keeps this table's change history in the lake for that long
	// (e.g. 400d): older day partitions are removed. Zero keeps it forever.
	Retain conf.Duration `yaml:"retain"`
}

var tableKeys = map[string]bool{"name": true, "mode": true, "snapshot": true, "chunk_rows": true,
	"workers": true, "interval": true, "schedule": true, "retain": true}

// UnmarshalYAML accepts a bare table name or an object.
func (t *Table) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		t.Name = n.Value
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a table is a name (public.orders) or an object with name, mode, snapshot, chunk_rows, workers, interval, schedule, retain", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !tableKeys[k.Value] {
			return fmt.Errorf("line %d: %q is not a known key of a table (known: name, mode, snapshot, chunk_rows, workers, interval, schedule, retain)", k.Line, k.Value)
		}
	}
	type plain Table
	return n.Decode((*plain)(t))
}

// TableName parses the table's name (it was checked by Validate).
func (t Table) TableName() conf.TableName {
	n, _ := conf.ParseTableName(t.Name)
	return n
}

// Defaults fills what the file left out; name is the slot and publication
// name to use when none is given (inlet_<pipeline>_<source>).
func (pg *Config) Defaults(name string) {
	if pg.Publication == "" {
		pg.Publication = name
	}
	if pg.Slot == "" {
		pg.Slot = name
	}
	if pg.HeartbeatInterval == 0 {
		pg.HeartbeatInterval = conf.Duration(30 * time.Second)
	}
	if pg.MaxRetainedWALMB == 0 {
		pg.MaxRetainedWALMB = 1024
	}
	if pg.SnapshotChunkRows == 0 {
		pg.SnapshotChunkRows = 50_000
	}
	if pg.SnapshotWorkers == 0 {
		pg.SnapshotWorkers = max(1, min(4, runtime.NumCPU()/2))
	}
	for j := range pg.Tables {
		t := &pg.Tables[j]
		if t.Mode == "" {
			t.Mode = conf.ModeCDC
		}
		if t.Snapshot == "" {
			t.Snapshot = "initial"
		}
		if t.ChunkRows == 0 {
			t.ChunkRows = pg.SnapshotChunkRows
		}
		if t.Workers == 0 {
			t.Workers = pg.SnapshotWorkers
		}
	}
}

// Validate reports the source's problems; p is its key path
// ("sources[0].postgres").
func (pg *Config) Validate(p string, v conf.Checker) {
	bad := v.Bad
	if pg.DSN == "" {
		bad(p+".dsn", "missing; write the connection string, e.g. dsn: \"postgres://inlet@127.0.0.1:5432/shop\"")
	} else if _, err := pgx.ParseConfig(pg.DSN); err != nil {
		bad(p+".dsn", "not a valid Postgres connection string: %v", conf.RedactURL(err.Error(), pg.DSN))
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
		n, err := conf.ParseTableName(t.Name)
		if err != nil {
			bad(tp, "%v", err)
			continue
		}
		if seen[n.String()] {
			bad(tp, "%s is listed twice", n)
		}
		seen[n.String()] = true
		switch t.Mode {
		case conf.ModeCDC:
			if t.Interval != 0 || t.Schedule != "" {
				bad(tp+".mode", "interval and schedule apply to mode: full_refresh; remove them or set mode: full_refresh")
			}
		case conf.ModeFullRefresh:
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
		conf.CheckRetain(v, tp+".retain", t.Retain)
	}
	if !slotRe.MatchString(pg.Slot) {
		bad(p+".slot", "%q is not a valid replication slot name (lower case letters, digits, _; at most 63)", pg.Slot)
	}
	for i, col := range pg.TextColumns {
		if strings.Count(col, ".") != 2 {
			bad(fmt.Sprintf("%s.text_columns[%d]", p, i), "%q must be schema.table.column", col)
		}
	}
}

var slotRe = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// Captures maps each captured table (schema.table, its name in the lake
// and ClickHouse) to its mode and retention.
func (pg *Config) Captures(string) map[string]conf.Captured {
	out := map[string]conf.Captured{}
	for _, t := range pg.Tables {
		if n, err := conf.ParseTableName(t.Name); err == nil {
			out[n.String()] = conf.Captured{Mode: t.Mode, Retain: t.Retain}
		}
	}
	return out
}
