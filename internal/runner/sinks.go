package runner

import (
	"context"
	"log/slog"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/lake"
)

// SinkNames lists the configured sinks, in the order they are opened.
// This is the one place that knows which sinks exist.
func SinkNames(c *config.Config) []string {
	var out []string
	if c.Lake != nil {
		out = append(out, lake.SinkName)
	}
	if c.ClickHouse != nil {
		out = append(out, clickhouse.SinkName)
	}
	return out
}

// OpenSinks opens the configured sinks whose names are in only (all when
// only is empty). Close them with CloseSinks.
func OpenSinks(ctx context.Context, c *config.Config, only map[string]bool, log *slog.Logger) ([]connectors.Sink, error) {
	var out []connectors.Sink
	want := func(name string) bool { return len(only) == 0 || only[name] }
	if c.Lake != nil && want(lake.SinkName) {
		lk, err := OpenLake(c)
		if err != nil {
			return nil, err
		}
		out = append(out, lk.Sink())
	}
	if c.ClickHouse != nil && want(clickhouse.SinkName) {
		s, err := clickhouse.Open(ctx, c.ClickHouse, log)
		if err != nil {
			CloseSinks(out)
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// CloseSinks closes every sink.
func CloseSinks(sinks []connectors.Sink) {
	for _, s := range sinks {
		s.Close()
	}
}
