package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/internal/config"
)

// Describe prints, for analysts, every table Inlet maintains: where each
// comes from (source, Kafka topic, lake path), the ClickHouse table and
// view to query, how fresh they are, and each summary with its definition,
// refresh mode, freshness and latest checks.
func Describe(ctx context.Context, c *config.Config, out io.Writer) error {
	var sink *clickhouse.Sink
	if c.ClickHouse != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var err error
		sink, err = clickhouse.Open(sctx, c.ClickHouse, slog.New(slog.NewTextHandler(io.Discard, nil)))
		cancel()
		if err != nil {
			fmt.Fprintf(out, "clickhouse unreachable: %v\n\n", err)
			sink = nil
		} else {
			defer sink.Close()
		}
	}
	lakeRoot := ""
	if c.Lake != nil {
		lakeRoot, _ = config.LakeDir(c.Lake.Path)
	}
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
		fmt.Fprintf(out, "  kafka topic    %s\n", t.Topic)
		if lakeRoot != "" {
			fmt.Fprintf(out, "  lake           %s (Delta table; one row per change)\n", filepath.Join(lakeRoot, t.Name))
		}
		if sink == nil {
			continue
		}
		mi, err := sink.Mirror(ctx, t.Name)
		switch {
		case err != nil:
			fmt.Fprintf(out, "  clickhouse     %s: %v\n", mi.Table, err)
		case !mi.Exists:
			fmt.Fprintf(out, "  clickhouse     %s (not created yet)\n", mi.Table)
		default:
			fmt.Fprintf(out, "  clickhouse     %s (every version, ReplacingMergeTree)\n", mi.Table)
			fmt.Fprintf(out, "  query          %s: %d current rows, last synced %s\n", mi.View, mi.Current, age(mi.LastSynced))
		}
	}
	if sink == nil {
		return nil
	}
	infos, err := sink.Summaries(ctx)
	if err != nil || len(infos) == 0 {
		return err
	}
	fmt.Fprintf(out, "\nSUMMARIES\n")
	for _, in := range infos {
		fmt.Fprintf(out, "\n%s.%s  from %s (via %s.%s_current)\n", c.ClickHouse.Database, in.Name, in.From, c.ClickHouse.Database, in.Mirror)
		fmt.Fprintf(out, "  dimensions     %s\n", strings.Join(in.Dimensions, ", "))
		fmt.Fprintf(out, "  measures       %s\n", strings.Join(in.Measures, ", "))
		if in.Where != "" {
			fmt.Fprintf(out, "  where          %s\n", in.Where)
		}
		if in.PartitionBy != "" {
			fmt.Fprintf(out, "  partition by   %s\n", in.PartitionBy)
		}
		fresh := "not built yet"
		if in.Built {
			fresh = fmt.Sprintf("%d rows, refreshed %s", in.Rows, age(in.RefreshedAt))
		}
		fmt.Fprintf(out, "  refresh        %s; %s\n", in.Refresh, fresh)
		for _, ck := range in.Checks {
			st := "ok"
			if !ck.OK {
				st = "FAILED: " + ck.Detail
			}
			fmt.Fprintf(out, "  check          %s %s (%s)\n", ck.Check, st, age(ck.At))
		}
	}
	return nil
}

func age(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "never"
	}
	return t.UTC().Format(time.RFC3339) + ", " + time.Since(t).Round(time.Second).String() + " ago"
}
