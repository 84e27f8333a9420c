package runner

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/timefmt"
)

// Describe prints, for analysts, every table Inlet maintains: where each
// comes from (source, Kafka topic, lake path), the ClickHouse table and
// view to query, how fresh they are, and each summary with its definition,
// refresh mode, freshness and latest checks.
func Describe(ctx context.Context, c *config.Config, out io.Writer) error {
	sinks := openForReading(ctx, c, out)
	defer CloseSinks(sinks)
	sources := map[string]string{}
	modes := map[string]string{}
	for _, s := range c.Sources {
		if s.HTTP != nil {
			sources[s.Name] = s.Name
			modes[s.Name] = "http " + s.HTTP.Mode + ", " + c.Redact(s.HTTP.URL)
		}
		if s.Postgres == nil {
			continue
		}
		for _, t := range s.Postgres.Tables {
			sources[t.TableName().String()] = s.Name
			modes[t.TableName().String()] = t.Mode
		}
	}
	fmt.Fprintf(out, "Pipeline %s\n\nTABLES\n", c.Pipeline)
	for _, t := range Tables(c) {
		kind := "postgres, mode"
		if strings.HasPrefix(modes[t.Name], "http ") {
			kind = "mode"
		}
		fmt.Fprintf(out, "\n%s  (source %s, %s %s)\n", t.Name, sources[t.Name], kind, modes[t.Name])
		fmt.Fprintf(out, "  %-14s %s\n", "kafka topic", t.Topic)
		for _, s := range sinks {
			d, ok := s.(connectors.Describer)
			if !ok {
				continue
			}
			info, err := d.Describe(ctx, t)
			switch {
			case err != nil:
				fmt.Fprintf(out, "  %-14s %s: %v\n", s.Name(), info.Where, err)
			case !info.Exists:
				fmt.Fprintf(out, "  %-14s %s (not created yet)\n", s.Name(), info.Where)
			default:
				fmt.Fprintf(out, "  %-14s %s (%s)\n", s.Name(), info.Where, info.Kind)
				if info.Query != "" {
					fmt.Fprintf(out, "  %-14s %s: %d current rows, last synced %s\n", "query", info.Query, info.Rows, timefmt.Ago(info.LastChange))
				}
			}
		}
	}
	for _, s := range sinks {
		if r, ok := s.(connectors.Reporter); ok {
			if err := r.Report(ctx, out, Tables(c), true); err != nil {
				return err
			}
		}
	}
	return nil
}
