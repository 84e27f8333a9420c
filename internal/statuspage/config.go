package statuspage

import (
	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/lake"
)

// tableNames lists a pipeline's source tables as its sinks name them:
// schema.table for Postgres, the source's name for an HTTP stream.
func tableNames(c *config.Config) []string {
	var out []string
	for _, s := range c.Sources {
		switch {
		case s.HTTP != nil:
			out = append(out, s.Name)
		case s.Postgres != nil:
			for _, t := range s.Postgres.Tables {
				out = append(out, t.TableName().String())
			}
		}
	}
	return out
}

// sinkNames lists the configured sinks, in the engine's order.
func sinkNames(c *config.Config) []string {
	var out []string
	if c.Lake != nil {
		out = append(out, lake.SinkName)
	}
	if c.ClickHouse != nil {
		out = append(out, clickhouse.SinkName)
	}
	return out
}
