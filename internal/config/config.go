// Package config loads and validates an Inlet pipeline file.
//
// A pipeline file is YAML. Unknown keys are errors, ${NAME} is replaced by the
// environment variable NAME before parsing (in any value; see expandEnv), and
// Validate reports every problem at once, each with the file, the line and
// the fix. Redact and RedactHandler hide the config's secrets.
//
// The sections belong to their packages: postgres.Config, httpapi.Config,
// lake.Config, clickhouse.Config and kafka.Config each fill their own
// defaults and validate themselves through a conf.Checker; this package
// parses the file, substitutes ${ENV}, knows the file's lines, and checks
// only what spans sections (two sources filling one table, a summary or a
// retention naming a captured table).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/connectors/httpapi"
	"github.com/inlet-dev/inlet/connectors/postgres"
	"github.com/inlet-dev/inlet/internal/kafka"
	"github.com/inlet-dev/inlet/lake"
	"gopkg.in/yaml.v3"
)

// Config is one pipeline: its sources and its sinks.
type Config struct {
	Pipeline    string             `yaml:"pipeline"`
	StateDir    string             `yaml:"state_dir"`
	Kafka       *kafka.Config      `yaml:"kafka"`
	Sources     []Source           `yaml:"sources"`
	Lake        *lake.Config       `yaml:"lake"`
	ClickHouse  *clickhouse.Config `yaml:"clickhouse"`
	Checkpoints Checkpoints        `yaml:"checkpoints"`
	Capture     Capture            `yaml:"capture"`
	Engine      Engine             `yaml:"engine"`
	Incidents   Incidents          `yaml:"incidents"`
	Lineage     Lineage            `yaml:"lineage"`

	file    string
	lines   map[string]int // key path ("sources[0].postgres.dsn") → line
	envRefs []envUse       // the ${NAME} references substituted
	secrets []string       // secret values: Redact hides them
}

// Source is one named source; exactly one kind is set. Each kind is a
// config type its connector owns (defaults and validation included):
// adding a connector adds a field here and a line to kinds.
type Source struct {
	Name     string           `yaml:"name"`
	Postgres *postgres.Config `yaml:"postgres"`
	HTTP     *httpapi.Config  `yaml:"http"`
}

// SourceConfig is what a source kind's config does for the pipeline file.
type SourceConfig interface {
	// Defaults fills what the file left out; name is the default slot,
	// publication or other server-side name (inlet_<pipeline>_<source>).
	Defaults(name string)
	// Validate reports problems under the key path p ("sources[0].http").
	Validate(p string, v conf.Checker)
	// Captures maps each table the source fills (schema.table, as named
	// in the lake and ClickHouse) to its mode and retention; source is
	// the source's name.
	Captures(source string) map[string]conf.Captured
}

// kinds lists the kinds set on s, each with its key.
func (s *Source) kinds() (keys []string, cfgs []SourceConfig) {
	if s.Postgres != nil {
		keys, cfgs = append(keys, "postgres"), append(cfgs, s.Postgres)
	}
	if s.HTTP != nil {
		keys, cfgs = append(keys, "http"), append(cfgs, s.HTTP)
	}
	return keys, cfgs
}

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
	CommitInterval conf.Duration `yaml:"commit_interval"` // default 100ms
	// SplitAfter: a source transaction still open in Kafka after this long
	// is committed in parts (see docs/exactly-once.md). Keep it well under
	// the Kafka transaction timeout (5m).
	SplitAfter conf.Duration `yaml:"split_after"` // default 2m
}

// Engine tunes micro-batches.
type Engine struct {
	BatchRecords int           `yaml:"batch_records"` // default 100000
	BatchBytes   int           `yaml:"batch_bytes"`   // default 8 MiB
	BatchWait    conf.Duration `yaml:"batch_wait"`    // default 1s
	// ConsumerGroup: several `inlet run --only engine` processes share the
	// change topics through the Kafka consumer group inlet-<pipeline>-engine
	// (needs kafka.brokers and checkpoints.postgres).
	ConsumerGroup bool `yaml:"consumer_group"`
	// InstanceID makes this engine a static member of the consumer group
	// (Kafka's group.instance.id): restarted with the same id, it takes
	// its predecessor's place and partitions at once. Each engine process
	// needs its own, e.g. ${HOSTNAME}.
	InstanceID string `yaml:"instance_id"`
}

// EngineGroup is the Kafka consumer group of the pipeline's engines, ""
// unless engine.consumer_group is set.
func (c *Config) EngineGroup() string {
	if !c.Engine.ConsumerGroup {
		return ""
	}
	return "inlet-" + c.Pipeline + "-engine"
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
	if c.Kafka != nil {
		c.Kafka.Defaults()
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		_, kinds := s.kinds()
		for _, k := range kinds {
			k.Defaults("inlet_" + c.Pipeline + "_" + s.Name)
		}
	}
	if p := c.Checkpoints.Postgres; p != nil && p.Table == "" {
		p.Table = "inlet_checkpoints"
	}
	if c.Capture.CommitInterval == 0 {
		c.Capture.CommitInterval = conf.Duration(100 * time.Millisecond)
	}
	if c.Capture.SplitAfter == 0 {
		c.Capture.SplitAfter = conf.Duration(2 * time.Minute)
	}
	// Engine batch limits left at zero take the engine's defaults
	// (engine.DefaultBatch*), set in that one place.
	if c.ClickHouse != nil {
		modes := c.capturedModes()
		c.ClickHouse.Defaults(func(t string) bool { return modes[t] == conf.ModeFullRefresh })
	}
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
