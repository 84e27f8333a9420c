package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

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

// OpenSink opens one configured sink by name.
func OpenSink(ctx context.Context, c *config.Config, name string, log *slog.Logger) (connectors.Sink, error) {
	switch {
	case name == lake.SinkName && c.Lake != nil:
		lk, err := OpenLake(c)
		if err != nil {
			return nil, err
		}
		return lk.Sink(log), nil
	case name == clickhouse.SinkName && c.ClickHouse != nil:
		return clickhouse.Open(ctx, c.ClickHouse, log)
	}
	return nil, fmt.Errorf("sink %q is not configured (configured: %s)", name, strings.Join(SinkNames(c), ", "))
}

// OpenSinks opens the configured sinks whose names are in only (all when
// only is empty). Close them with CloseSinks.
func OpenSinks(ctx context.Context, c *config.Config, only map[string]bool, log *slog.Logger) ([]connectors.Sink, error) {
	var out []connectors.Sink
	for _, name := range SinkNames(c) {
		if len(only) > 0 && !only[name] {
			continue
		}
		s, err := OpenSink(ctx, c, name, log)
		if err != nil {
			CloseSinks(out)
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// openForReading opens every configured sink for status and describe,
// each within a few seconds; one that cannot be reached is reported on w
// and left out.
func openForReading(ctx context.Context, c *config.Config, w io.Writer) []connectors.Sink {
	var out []connectors.Sink
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, name := range SinkNames(c) {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := OpenSink(sctx, c, name, quiet)
		cancel()
		if err != nil {
			fmt.Fprintf(w, "%s unreachable: %v\n", name, err)
			continue
		}
		out = append(out, s)
	}
	return out
}

// CloseSinks closes every sink.
func CloseSinks(sinks []connectors.Sink) {
	for _, s := range sinks {
		s.Close()
	}
}
