package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	_ "github.com/marcboeker/go-duckdb"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/lake"
)

// runLakeLog measures what a long-lived lake table costs its readers:
// for tables of BENCH_COMMITS commits (default 200,2000,20000, each of
// BENCH_ROWS_PER_COMMIT rows, one commit a minute of row time), the time
// to open the table from its checkpoint and by replaying the JSON commits
// alone, DuckDB's count(*) over the live files, and the live files and
// bytes, before and after maintenance (compaction, checkpoint).
func runLakeLog(e *env) error {
	counts := []int{200, 2000, 20000}
	if s := os.Getenv("BENCH_COMMITS"); s != "" {
		counts = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return fmt.Errorf("BENCH_COMMITS=%q: want a comma-separated list of positive numbers", s)
			}
			counts = append(counts, n)
		}
	}
	perCommit := 10
	if s := os.Getenv("BENCH_ROWS_PER_COMMIT"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("BENCH_ROWS_PER_COMMIT=%q: want a positive number", s)
		}
		perCommit = n
	}
	dir, err := os.MkdirTemp("", "inlet-bench-lakelog")
	if err != nil {
		return err
	}
	if os.Getenv("BENCH_KEEP") == "" {
		e.Cleanup(func() { os.RemoveAll(dir) })
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()

	fmt.Printf("\nInlet lake log benchmark: one table, %d rows per commit, checkpoint every %d commits\n", perCommit, lake.DefaultCheckpointInterval)
	fmt.Printf("machine: %d CPUs, %s/%s; lake on the local disk (%s)\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, dir)
	fmt.Printf("| %7s | %-20s | %7s | %7s | %10s | %12s | %11s | %-16s |\n", "commits", "state", "write s", "open ms", "files read", "JSON-only ms", "count(*) ms", "live files")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 9), strings.Repeat("-", 22), strings.Repeat("-", 9), strings.Repeat("-", 9), strings.Repeat("-", 12), strings.Repeat("-", 14), strings.Repeat("-", 13), strings.Repeat("-", 18))
	sc := &change.Schema{Topic: "bench.public.events", Namespace: "public", Table: "events", Columns: []change.Column{
		{Name: "id", Kind: change.Int64, Key: true}, {Name: "kind", Kind: change.String}, {Name: "amount", Kind: change.Float64},
		{Name: "at", Kind: change.TimestampTZ}}}
	sc.Seal()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range counts {
		root := filepath.Join(dir, strconv.Itoa(n))
		l, err := lake.Open(root, "bench")
		if err != nil {
			return err
		}
		ctx := context.Background()
		start := time.Now()
		var off int64
		for i := 0; i < n; i++ {
			ts := base.Add(time.Duration(i) * time.Minute)
			rows := make([]change.Row, perCommit)
			for j := range rows {
				rows[j] = change.Row{Schema: sc, Op: 'c', Values: []any{off, "k" + strconv.Itoa(int(off%7)), float64(off) / 100, ts},
					Version: uint64(off + 1), TsMs: ts.UnixMilli(), Offset: off}
				off++
			}
			if _, _, err := l.Write(ctx, lake.Batch{Table: "public.events", Topic: sc.Topic, Rows: rows,
				Ranges: map[int32]lake.Range{0: {From: off - int64(perCommit), To: off - 1}}}); err != nil {
				return err
			}
		}
		wrote := time.Since(start)
		report := func(state string, wrote time.Duration) error {
			start := time.Now()
			l2, err := lake.Open(root, "bench")
			if err != nil {
				return err
			}
			t, err := l2.Table("public.events")
			if err != nil {
				return err
			}
			open := time.Since(start)
			st, err := l2.Stats("public.events")
			if err != nil {
				return err
			}
			jsonOnly, err := openJSONOnly(root)
			if err != nil {
				return err
			}
			files := t.Files()
			q := make([]string, len(files))
			for i, f := range files {
				q[i] = "'" + filepath.Join(t.Dir(), f) + "'"
			}
			start = time.Now()
			var rows int64
			if err := db.QueryRow("SELECT count(*) FROM read_parquet([" + strings.Join(q, ",") + "])").Scan(&rows); err != nil {
				return err
			}
			count := time.Since(start)
			if rows != off {
				return fmt.Errorf("%d commits, %s: DuckDB counts %d rows, want %d", n, state, rows, off)
			}
			ws := "-"
			if wrote > 0 {
				ws = fmt.Sprintf("%.1f", wrote.Seconds())
			}
			fmt.Printf("| %7d | %-20s | %7s | %7.1f | %10d | %12.1f | %11.1f | %-16s |\n", n, state, ws, ms(open), st.LogFilesRead, ms(jsonOnly), ms(count),
				fmt.Sprintf("%d (%.1f MB)", st.Files, float64(st.Bytes)/(1<<20)))
			return nil
		}
		if err := report("streamed", wrote); err != nil {
			return err
		}
		start = time.Now()
		if _, err := l.Maintain(ctx, "public.events", time.Now()); err != nil {
			return err
		}
		if err := report(fmt.Sprintf("maintained (%.1fs)", time.Since(start).Seconds()), 0); err != nil {
			return err
		}
	}
	fmt.Println("\nopen ms: lake.Open + Table from the newest checkpoint and the commits after it; files read: checkpoint + JSON commits;")
	fmt.Println("JSON-only ms: the same open with the checkpoints set aside (every commit replayed); count(*): DuckDB read_parquet over the live files.")
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// openJSONOnly times an open of the table with its checkpoints moved
// aside, so every JSON commit is replayed.
func openJSONOnly(root string) (time.Duration, error) {
	log := filepath.Join(root, "public.events", "_delta_log")
	aside := log + ".aside"
	os.MkdirAll(aside, 0o755)
	ck, _ := filepath.Glob(filepath.Join(log, "*.checkpoint.parquet"))
	for _, f := range ck {
		if err := os.Rename(f, filepath.Join(aside, filepath.Base(f))); err != nil {
			return 0, err
		}
	}
	defer func() {
		for _, f := range ck {
			os.Rename(filepath.Join(aside, filepath.Base(f)), f)
		}
		os.Remove(aside)
	}()
	start := time.Now()
	l, err := lake.Open(root, "bench")
	if err != nil {
		return 0, err
	}
	if _, err := l.Table("public.events"); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
