// Package config loads and validates an Inlet pipeline file.
//
// A pipeline file is YAML. Unknown keys are errors, ${NAME} is replaced by the
// environment variable NAME before parsing (in any value; see expandEnv), and
// Validate reports every problem at once, each with the file, the line and
// the fix. Redact and RedactHandler hide the config's secrets.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is one pipeline: its sources and its sinks.
type Config struct {
	Pipeline    string      `yaml:"pipeline"`
	StateDir    string      `yaml:"state_dir"`
	Kafka       *Kafka      `yaml:"kafka"`
	Sources     []Source    `yaml:"sources"`
	Lake        *Lake       `yaml:"lake"`
	ClickHouse  *ClickHouse `yaml:"clickhouse"`
	Checkpoints Checkpoints `yaml:"checkpoints"`
	Capture     Capture     `yaml:"capture"`
	Engine      Engine      `yaml:"engine"`
	Incidents   Incidents   `yaml:"incidents"`
	Lineage     Lineage     `yaml:"lineage"`

	file    string
	lines   map[string]int // key path ("sources[0].postgres.dsn") → line
	envRefs []envUse       // the ${NAME} references substituted
	secrets []string       // secret values: Redact hides them
}

// Kafka points at an external cluster. Without brokers (or without the
// section) Inlet embeds a broker under state_dir.
type Kafka struct {
	Brokers []string `yaml:"brokers"`
	// Retention bounds the embedded broker: records every sink has
	// committed and older than this are deleted (default 7d). With
	// external brokers retention is the cluster's; Inlet only warns when a
	// sink needs records that are gone.
	Retention Duration `yaml:"retention"`
	// SegmentMB is the embedded broker's log segment size: deleted records
	// leave the disk a segment at a time (default 16).
	SegmentMB  int   `yaml:"segment_mb"`
	Partitions int32 `yaml:"partitions"` // partitions of each new change topic; default 1
	// Compression of produced record batches: none, snappy (default),
	// lz4 or zstd.
	Compression string `yaml:"compression"`
	// TLS encrypts connections to the brokers (and authenticates the
	// client with a certificate when cert_file and key_file are set).
	TLS *TLS `yaml:"tls"`
	// SASL authenticates the client: PLAIN, SCRAM-SHA-256 or
	// SCRAM-SHA-512. Use it with TLS: PLAIN sends the password as is.
	SASL *SASL `yaml:"sasl"`
}

// Source is one named source; exactly one kind is set.
type Source struct {
	Name     string    `yaml:"name"`
	Postgres *Postgres `yaml:"postgres"`
	HTTP     *HTTP     `yaml:"http"`
}

// Postgres captures tables through logical replication (pgoutput).
type Postgres struct {
	DSN         string  `yaml:"dsn"`
	Tables      []Table `yaml:"tables"`
	Publication string  `yaml:"publication"` // default inlet_<pipeline>_<source>
	Slot        string  `yaml:"slot"`        // default inlet_<pipeline>_<source>
	// TextColumns lists "schema.table.column" whose type Inlet does not map
	// natively; they are carried as their Postgres text form.
	TextColumns []string `yaml:"text_columns"`
	// HeartbeatInterval is how often a heartbeat WAL message is written and
	// slot retention is checked.
	HeartbeatInterval Duration `yaml:"heartbeat_interval"`
	// MaxRetainedWALMB warns when the slot retains more WAL than this.
	MaxRetainedWALMB int `yaml:"max_retained_wal_mb"`
	// SnapshotChunkRows is how many rows one snapshot chunk copies; each
	// chunk is committed to Kafka with its progress.
	SnapshotChunkRows int `yaml:"snapshot_chunk_rows"`
	// SnapshotWorkers is how many connections copy chunks in parallel.
	SnapshotWorkers int `yaml:"snapshot_workers"`
}

// Lake is the Delta Lake root.
type Lake struct {
	Path string `yaml:"path"` // file:///abs/path or a local path
	// Maintenance of the Delta tables (see docs/lake-maintenance.md).
	CheckpointInterval   int                 `yaml:"checkpoint_interval"`    // default 100
	LogRetention         Duration            `yaml:"log_retention"`          // default 30d
	DeletedFileRetention Duration            `yaml:"deleted_file_retention"` // default 7d
	TargetFileMB         int                 `yaml:"target_file_mb"`         // default 128
	CompactMinFiles      int                 `yaml:"compact_min_files"`      // default 10
	Retain               map[string]Duration `yaml:"retain"`                 // per table (schema.table)
}

// ClickHouse is the warehouse sink.
type ClickHouse struct {
	Addr     string `yaml:"addr"`
	Database string `yaml:"database"`
	Username string `yaml:"username"`
	Password string `yaml:"password"` // from the environment: "${CLICKHOUSE_PASSWORD}"
	// TLS connects to the secure native port (9440 usually).
	TLS *TLS `yaml:"tls"`
	// Summaries are GROUP BY tables kept correct as the mirrors change.
	Summaries []Summary `yaml:"summaries"`
	// OutOfRange says what to do with a value the server's column type
	// cannot hold (a date before 1970 on 18.16, infinity, NaN in a
	// Decimal): clamp (default), null, or fail. See docs/types.md.
	OutOfRange string `yaml:"out_of_range"`
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

// Checkpoints chooses where sink checkpoints live: files under state_dir
// (default) or a Postgres table.
type Checkpoints struct {
	Postgres *CheckpointsPostgres `yaml:"postgres"`
}

// CheckpointsPostgres is a Postgres checkpoint table.
type CheckpointsPostgres struct {
	DSN   string `yaml:"dsn"`
	Table string `yaml:"table"` // default inlet_checkpoints
}

// Capture tunes how sources commit to Kafka.
type Capture struct {
	// CommitInterval bounds how long published records wait for their
	// Kafka transaction to commit.
	CommitInterval Duration `yaml:"commit_interval"` // default 100ms
	// SplitAfter: a source transaction still open in Kafka after this long
	// is committed in parts (see docs/exactly-once.md). Keep it well under
	// the Kafka transaction timeout (5m).
	SplitAfter Duration `yaml:"split_after"` // default 2m
}

// Engine tunes micro-batches.
type Engine struct {
	BatchRecords int      `yaml:"batch_records"` // default 100000
	BatchBytes   int      `yaml:"batch_bytes"`   // default 32 MiB
	BatchWait    Duration `yaml:"batch_wait"`    // default 1s
}

// Duration is a time.Duration written as "500ms", "2s", "5m", or in whole
// days as "7d", "400d".
type Duration time.Duration

// ParseDuration parses a Go duration ("90s", "36h") or a whole number of
// days ("7d", "400d").
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// UnmarshalYAML parses a Go duration string, or days ("7d").
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (write e.g. 500ms, 2s, 5m, 36h, 7d)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Load reads, expands and parses path. It does not validate; call Validate.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, raw)
}

// Parse parses raw as the file named name.
func Parse(name string, raw []byte) (*Config, error) {
	expanded, uses, missing := expandEnv(raw)
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: environment variables not set: %s (export them or remove the ${...} references)", name, strings.Join(missing, ", "))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(expanded, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &Config{file: name, lines: map[string]int{}, envRefs: uses}
	indexLines(&root, "", c.lines)
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			errs := make([]error, 0, len(te.Errors))
			for _, e := range te.Errors {
				errs = append(errs, fmt.Errorf("%s: %s", name, strings.Replace(e, "not found in type", "is not a known key in", 1)))
			}
			return nil, errors.Join(errs...)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.applyDefaults()
	c.collectSecrets()
	return c, nil
}

func indexLines(n *yaml.Node, path string, out map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, path, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			p := k
			if path != "" {
				p = path + "." + k
			}
			out[p] = n.Content[i].Line
			indexLines(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			out[p] = c.Line
			indexLines(c, p, out)
		}
	}
}

func (c *Config) applyDefaults() {
	if c.StateDir == "" {
		c.StateDir = "./.inlet"
	}
	if c.Kafka != nil && c.Kafka.Partitions == 0 {
		c.Kafka.Partitions = 1
	}
	if c.Kafka != nil && c.Kafka.Compression == "" {
		c.Kafka.Compression = "snappy"
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		if h := s.HTTP; h != nil {
			h.applyDefaults()
		}
		if pg := s.Postgres; pg != nil {
			def := "inlet_" + c.Pipeline + "_" + s.Name
			if pg.Publication == "" {
				pg.Publication = def
			}
			if pg.Slot == "" {
				pg.Slot = def
			}
			if pg.HeartbeatInterval == 0 {
				pg.HeartbeatInterval = Duration(30 * time.Second)
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
					t.Mode = ModeCDC
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
	}
	if p := c.Checkpoints.Postgres; p != nil && p.Table == "" {
		p.Table = "inlet_checkpoints"
	}
	if c.Capture.CommitInterval == 0 {
		c.Capture.CommitInterval = Duration(100 * time.Millisecond)
	}
	if c.Capture.SplitAfter == 0 {
		c.Capture.SplitAfter = Duration(2 * time.Minute)
	}
	// Engine batch limits left at zero take the engine's defaults
	// (engine.DefaultBatch*), set in that one place.
	c.applySummaryDefaults()
	c.applyObserveDefaults()
}

// ExternalKafka reports whether the pipeline uses Kafka brokers of its own
// rather than the embedded broker.
func (c *Config) ExternalKafka() bool { return c.Kafka != nil && len(c.Kafka.Brokers) > 0 }

// EmbeddedBroker returns the embedded broker's retention and segment size.
func (c *Config) EmbeddedBroker() (retention time.Duration, segmentMB int) {
	retention, segmentMB = 7*24*time.Hour, 16
	if c.Kafka != nil && c.Kafka.Retention > 0 {
		retention = time.Duration(c.Kafka.Retention)
	}
	if c.Kafka != nil && c.Kafka.SegmentMB > 0 {
		segmentMB = c.Kafka.SegmentMB
	}
	return retention, segmentMB
}

// File is the path the config was read from.
func (c *Config) File() string { return c.file }

// Line is the line of the key path ("sources[0].postgres.dsn"), or of the
// closest parent that has one, or 0.
func (c *Config) Line(path string) int {
	for path != "" {
		if l, ok := c.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}
