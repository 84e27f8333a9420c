package runner

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/connectors/postgres"
	"github.com/inlet-dev/inlet/internal/config"
)

// Status prints, per table, what each sink holds, the last checkpoints and
// each Postgres slot's lag. It reads files and databases only, so it works
// while `inlet run` holds the state dir.
func Status(ctx context.Context, c *config.Config, out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	store, err := OpenStore(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	sinks := openForReading(ctx, c, tw)
	defer CloseSinks(sinks)
	header := "TABLE\tTOPIC"
	for _, s := range sinks {
		if _, ok := s.(connectors.Describer); ok {
			n := strings.ToUpper(s.Name())
			header += "\t" + n + " VERSION\t" + n + " ROWS"
		}
	}
	fmt.Fprintln(tw, header)
	for _, t := range Tables(c) {
		line := t.Name + "\t" + t.Topic
		for _, s := range sinks {
			d, ok := s.(connectors.Describer)
			if !ok {
				continue
			}
			v, r := "-", "-"
			info, err := d.Describe(ctx, t)
			switch {
			case err != nil:
				r = "n/a"
			case info.Exists:
				if info.Version >= 0 {
					v = fmt.Sprint(info.Version)
				}
				if info.Rows >= 0 {
					r = fmt.Sprint(info.Rows)
				}
			}
			line += "\t" + v + "\t" + r
		}
		fmt.Fprintln(tw, line)
	}
	for _, s := range sinks {
		if r, ok := s.(connectors.Reporter); ok {
			if err := r.Report(ctx, tw, Tables(c), false); err != nil {
				return err
			}
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SINK\tLAST CHECKPOINT\tTIME\tAGE")
	for _, s := range SinkNames(c) {
		b, ok, err := store.Latest(ctx, s)
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintf(tw, "%s\tnone\t\t\n", s)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", s, b.ID, b.Time.Format(time.RFC3339), time.Since(b.Time).Round(time.Second))
	}
	printGroup(ctx, tw, c)
	if err := printRunStatus(tw, c); err != nil {
		return err
	}
	if err := printIncidents(tw, c); err != nil {
		return err
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SOURCE\tSLOT\tACTIVE\tCONFIRMED LSN\tRETAINED WAL")
	for _, s := range c.Sources {
		if s.Postgres == nil {
			continue
		}
		line, err := slotStatus(ctx, s.Postgres)
		if err != nil {
			line = "unreachable: " + err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, s.Postgres.Slot, line)
	}
	return nil
}

func slotStatus(ctx context.Context, pg *postgres.Config) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, pg.DSN)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var active bool
	var lsn, retained string
	err = conn.QueryRow(cctx, `SELECT active, COALESCE(confirmed_flush_lsn::text, '-'),
		pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn))
		FROM pg_replication_slots WHERE slot_name = $1`, pg.Slot).Scan(&active, &lsn, &retained)
	if err == pgx.ErrNoRows {
		return "absent\t-\t-", nil
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%v\t%s\t%s", active, lsn, retained), nil
}

// printRunStatus prints snapshot, backfill and refresh progress from the
// status file the running pipeline writes every second.
func printRunStatus(tw io.Writer, c *config.Config) error {
	st, err := readStatus(c.StateDir)
	if err != nil || st == nil {
		return err
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "RUN (pid %d, reported %s ago)\n", st.PID, time.Since(st.Updated).Round(time.Second))
	if len(st.Sinks) > 0 {
		fmt.Fprintln(tw, "SINK\tSTATE\tLAG RECORDS\tLAG SECONDS\tLAST COMMIT\tLAST ERROR")
		for _, s := range st.Sinks {
			last := "-"
			if !s.LastCommit.IsZero() {
				last = time.Since(s.LastCommit).Round(time.Second).String() + " ago"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%s\t%s\n", s.Sink, s.State, s.LagRecords, s.LagSeconds, last, s.LastError)
		}
		for _, s := range st.Sinks {
			for _, q := range s.Quarantined {
				fmt.Fprintf(tw, "QUARANTINED\t%s in %s since %s: %s\n", q.Table, s.Sink, q.Since.Format(time.RFC3339), q.Error)
				fmt.Fprintf(tw, "\tfix: %s\n", q.Fix)
			}
		}
	}
	for _, s := range st.Sources {
		if len(s.Snapshot) > 0 {
			fmt.Fprintln(tw, "SNAPSHOT\tROWS\tESTIMATED\tDONE\tROWS/S\tETA")
			for _, p := range s.Snapshot {
				pct := "-"
				if p.Estimated > 0 {
					pct = fmt.Sprintf("%.1f%%", 100*min(1, float64(p.Rows)/float64(p.Estimated)))
				}
				if p.Done {
					pct = "100% (done)"
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.0f\t%s\n", p.Table, p.Rows, p.Estimated, pct, p.Rate(), p.ETA().Round(time.Second))
			}
		}
		if len(s.Backfills) > 0 {
			fmt.Fprintln(tw, "BACKFILL\tTABLE\tWHERE\tROWS\tCHUNKS\tLEFT TO STREAM\tSTATE")
			for i, b := range s.Backfills {
				state := "queued"
				if i == 0 {
					state = "running"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", b.ID, b.Table, b.Where, b.Rows, b.Chunks, b.Skipped, state)
			}
		}
		if len(s.Refreshes) > 0 {
			fmt.Fprintln(tw, "FULL REFRESH\tLAST\tROWS\tVERSION")
			for t, r := range s.Refreshes {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", t, time.UnixMilli(r.AtMs).UTC().Format(time.RFC3339), r.Rows, r.Gen)
			}
		}
	}
	if len(st.HTTP) > 0 {
		fmt.Fprintln(tw, "HTTP SOURCE\tCURSOR\tRECORDS\tREQUESTS\tLAST POLL\tSTATE")
		for _, h := range st.HTTP {
			state := "ok"
			if h.Failures > 0 {
				state = fmt.Sprintf("%d failed polls: %s", h.Failures, h.LastError)
			}
			if h.CircuitOpen {
				state = "circuit open; " + state
			}
			last := "-"
			if !h.LastPoll.IsZero() {
				last = time.Since(h.LastPoll).Round(time.Second).String() + " ago"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", h.Source, h.Cursor, h.Records, h.Requests, last, state)
		}
	}
	return nil
}

// printSummaries prints each summary's size, last refresh and last checks.
