package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/engine"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/lake"
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
	var lk *lake.Lake
	if c.Lake != nil {
		if lk, err = OpenLake(c); err != nil {
			return err
		}
	}
	var sink *clickhouse.Sink
	if c.ClickHouse != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		sink, err = clickhouse.Open(sctx, c.ClickHouse, slog.New(slog.NewTextHandler(io.Discard, nil)))
		cancel()
		if err != nil {
			fmt.Fprintf(tw, "clickhouse unreachable: %v\n", err)
		} else {
			defer sink.Close()
		}
	}
	fmt.Fprintln(tw, "TABLE\tTOPIC\tLAKE VERSION\tLAKE CHANGES\tCLICKHOUSE ROWS (current)")
	for _, t := range Tables(c) {
		lv, lr := "-", "-"
		if lk != nil {
			tbl, err := lk.Table(t.Name)
			if err != nil {
				return err
			}
			lv, lr = fmt.Sprint(tbl.Version()), fmt.Sprint(tbl.Rows())
		}
		cr := "-"
		if sink != nil {
			if n, err := sink.CurrentRows(ctx, t.Name); err == nil {
				cr = fmt.Sprint(n)
			} else {
				cr = "n/a"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Topic, lv, lr, cr)
	}
	if lk != nil {
		fmt.Fprintln(tw)
		tw.Flush()
		if err := printLakeTables(out, c, lk); err != nil {
			return err
		}
	}
	if sink != nil {
		if err := printSummaries(ctx, tw, sink); err != nil {
			return err
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SINK\tLAST CHECKPOINT\tTIME\tAGE")
	for _, s := range []string{engine.SinkLake, engine.SinkClickHouse} {
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

func slotStatus(ctx context.Context, pg *config.Postgres) (string, error) {
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
func printSummaries(ctx context.Context, tw io.Writer, sink *clickhouse.Sink) error {
	infos, err := sink.Summaries(ctx)
	if err != nil || len(infos) == 0 {
		return err
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SUMMARY\tFROM\tREFRESH\tROWS\tREFRESHED\tCHECKS (latest)")
	for _, in := range infos {
		refreshed := "never"
		if in.Built {
			refreshed = fmt.Sprintf("%s ago", time.Since(in.RefreshedAt).Round(time.Second))
		}
		var checks []string
		for _, c := range in.Checks {
			st := "ok"
			if !c.OK {
				st = "FAILED: " + c.Detail
			}
			checks = append(checks, fmt.Sprintf("%s %s (%s)", c.Check, st, c.At.Format(time.RFC3339)))
		}
		if len(checks) == 0 {
			checks = []string{"none yet"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", in.Name, in.From, in.Refresh, in.Rows, refreshed, strings.Join(checks, "; "))
	}
	return nil
}
