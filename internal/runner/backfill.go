package runner

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/connectors/postgres"
	"github.com/inlet-dev/inlet/internal/config"
)

// Backfill asks the source that captures table to re-read it (the rows
// matching where, if set) while it streams. The request travels through
// the source's WAL, so it runs as soon as (or whenever) the pipeline runs.
func Backfill(ctx context.Context, c *config.Config, table, where string, out io.Writer) error {
	tn, err := conf.ParseTableName(table)
	if err != nil {
		return err
	}
	for _, s := range c.Sources {
		if s.Postgres == nil {
			continue
		}
		for _, t := range s.Postgres.Tables {
			if t.TableName() != tn {
				continue
			}
			conn, err := pgx.Connect(ctx, s.Postgres.DSN)
			if err != nil {
				return fmt.Errorf("source %s: connect: %w", s.Name, err)
			}
			defer conn.Close(context.Background())
			id, err := postgres.RequestBackfill(ctx, conn, tn, where)
			if err != nil {
				return fmt.Errorf("source %s: %w", s.Name, err)
			}
			what := "all rows"
			if where != "" {
				what = "rows where " + where
			}
			if t.Mode == conf.ModeFullRefresh {
				what = "a full refresh now"
			}
			fmt.Fprintf(out, "backfill %s requested: %s of %s (source %s). Progress: inlet status -c %s\n", id, what, tn, s.Name, c.File())
			return nil
		}
	}
	return fmt.Errorf("no source captures table %s; the config's tables are listed by inlet validate", tn)
}
