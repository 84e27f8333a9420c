package config

import (
	"fmt"
	"time"

	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/connectors/conf"
)

// checkSummarySources checks what a summary needs of the sources: its from
// names a captured table, and a full_refresh table's summaries refresh in
// full. The ClickHouse section checks the rest of each summary.
func (c *Config) checkSummarySources(chk *checker) {
	modes := c.capturedModes()
	for i, s := range c.ClickHouse.Summaries {
		p := fmt.Sprintf("clickhouse.summaries[%d]", i)
		n, err := conf.ParseTableName(s.From)
		if s.From == "" || err != nil {
			continue // reported by the ClickHouse section
		}
		if mode, ok := modes[n.String()]; !ok {
			chk.Bad(p+".from", "%s is not captured by any source; add it to a source's tables", n)
		} else if mode == conf.ModeFullRefresh && s.Refresh == clickhouse.RefreshIncremental {
			chk.Bad(p+".refresh", "%s is a full_refresh table, so its summaries are rebuilt after each refresh; set refresh: full", n)
		}
	}
}

// captured is one table a source fills.
type captured struct {
	source int    // index in Sources
	table  string // schema.table, as named in the lake and ClickHouse
	conf.Captured
}

// captures lists every table each source fills, source by source.
func (c *Config) captures() []captured {
	var out []captured
	for i := range c.Sources {
		s := &c.Sources[i]
		_, kinds := s.kinds()
		for _, k := range kinds {
			for t, cp := range k.Captures(s.Name) {
				out = append(out, captured{source: i, table: t, Captured: cp})
			}
		}
	}
	return out
}

// capturedModes maps every captured table (schema.table; an HTTP source's
// stream as public.<source>, where its tables live) to its mode, cdc or
// full_refresh.
func (c *Config) capturedModes() map[string]string {
	modes := map[string]string{}
	for _, cp := range c.captures() {
		modes[cp.table] = cp.Mode
	}
	return modes
}

// Retention is how long the lake keeps each table's history, by table
// (schema.table; an HTTP source's stream is public.<source>): the tables'
// own retain keys, then the deprecated lake.retain map for tables that set
// none. Nil when every table is kept forever.
func (c *Config) Retention() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, cp := range c.captures() {
		if cp.Retain > 0 {
			out[cp.table] = time.Duration(cp.Retain)
		}
	}
	if c.Lake != nil {
		for name, d := range c.Lake.Retain { // Validate checked the names
			if n, err := conf.ParseTableName(name); err == nil {
				if _, set := out[n.String()]; !set {
					out[n.String()] = time.Duration(d)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
