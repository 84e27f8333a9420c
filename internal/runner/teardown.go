package runner

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/internal/config"
)

// Teardown drops each Postgres source's replication slot and publication,
// so the pipeline stops retaining WAL. Kafka topics, the lake, ClickHouse
// tables and checkpoints are left alone. Without yes it asks the operator
// to type the pipeline name.
func Teardown(ctx context.Context, c *config.Config, yes bool, in io.Reader, out io.Writer) error {
	for _, s := range c.Sources {
		if s.Postgres != nil {
			fmt.Fprintf(out, "source %s: will drop replication slot %s and publication %s\n", s.Name, s.Postgres.Slot, s.Postgres.Publication)
		}
	}
	fmt.Fprintln(out, "Changes made after this are not captured; a later `inlet run` starts over with a new snapshot only after you also delete state_dir and the pipeline's topics.")
	if !yes {
		fmt.Fprintf(out, "Type the pipeline name (%s) to confirm: ", c.Pipeline)
		line, _ := bufio.NewReader(in).ReadString('\n')
		if strings.TrimSpace(line) != c.Pipeline {
			return fmt.Errorf("not confirmed; nothing dropped")
		}
	}
	for _, s := range c.Sources {
		pg := s.Postgres
		if pg == nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		conn, err := pgx.Connect(cctx, pg.DSN)
		if err != nil {
			cancel()
			return fmt.Errorf("source %s: %w", s.Name, err)
		}
		var active bool
		err = conn.QueryRow(cctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", pg.Slot).Scan(&active)
		switch {
		case err == pgx.ErrNoRows:
			fmt.Fprintf(out, "source %s: slot %s does not exist\n", s.Name, pg.Slot)
		case err != nil:
			conn.Close(ctx)
			cancel()
			return fmt.Errorf("source %s: %w", s.Name, err)
		case active:
			conn.Close(ctx)
			cancel()
			return fmt.Errorf("source %s: slot %s is in use; stop inlet run first", s.Name, pg.Slot)
		default:
			if _, err := conn.Exec(cctx, "SELECT pg_drop_replication_slot($1)", pg.Slot); err != nil {
				conn.Close(ctx)
				cancel()
				return fmt.Errorf("source %s: drop slot %s: %w", s.Name, pg.Slot, err)
			}
			fmt.Fprintf(out, "source %s: dropped slot %s\n", s.Name, pg.Slot)
		}
		if _, err := conn.Exec(cctx, "DROP PUBLICATION IF EXISTS "+conf.QuoteIdent(pg.Publication)); err != nil {
			conn.Close(ctx)
			cancel()
			return fmt.Errorf("source %s: drop publication %s: %w", s.Name, pg.Publication, err)
		}
		fmt.Fprintf(out, "source %s: dropped publication %s\n", s.Name, pg.Publication)
		conn.Close(ctx)
		cancel()
	}
	return nil
}
