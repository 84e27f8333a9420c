package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/internal/testenv"
	"github.com/inlet-dev/inlet/lake"
)

// runVerify measures `inlet verify` on one table of BENCH_ROWS rows
// (default 1,000,000) that Inlet has copied into the lake and ClickHouse,
// against plain counts of the same table in each system: Postgres
// count(*), ClickHouse count() of the _current view, and the lake's row
// count from its log. Inlet is stopped while verify runs, so the numbers
// are verify's own; time and peak RSS are of the verify process.
func runVerify(e *env) error {
	ctx := context.Background()
	rows := envInt("BENCH_ROWS", 1_000_000)
	pg := testenv.StartPostgres(e)
	chs := testenv.StartClickHouse(e)
	dir, bin, err := workDir(e, "inlet-bench-verify-")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	fmt.Fprintf(os.Stderr, "loading %d rows...\n", rows)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE orders (
			id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
			amount numeric(12,2), created_at timestamptz NOT NULL, active boolean, note text);
		INSERT INTO orders SELECT g, g %% 100000, (ARRAY['new','paid','shipped','cancelled'])[1 + g %% 4],
			(g %% 100000) / 100.0, timestamptz '2026-01-01' + g * interval '1 second', g %% 3 = 0,
			md5(g::text) || md5((g * 7)::text) || ' ' || repeat('n', g %% 20)
		FROM generate_series(1, %d) g`, rows)); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE orders"); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "pipeline.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`pipeline: bverify
state_dir: %[1]s/state
sources:
  - name: pg
    postgres:
      dsn: "%[2]s"
      tables: ["public.orders"]
lake:
  path: "file://%[1]s/lake"
clickhouse:
  addr: "%[3]s"
  database: bverify
`, dir, pg.DSN("postgres"), chs.Addr)), 0o644)
	logf, _ := os.Create(filepath.Join(dir, "inlet.log"))
	defer logf.Close()
	run := exec.Command(bin, "run", "-c", cfg)
	run.Stdout, run.Stderr = logf, logf
	if err := run.Start(); err != nil {
		return err
	}
	chConn := chs.Connect(e)
	start := time.Now()
	err = waitFor(20*time.Minute, func() bool {
		time.Sleep(time.Second) // replaying the log is not free
		lk, err := lake.Open(filepath.Join(dir, "lake"), "bverify")
		if err != nil {
			return false
		}
		t, err := lk.Table("public.orders")
		if err != nil || t.Rows() < int64(rows) {
			return false
		}
		var n uint64
		return chConn.QueryRow(ctx, "SELECT count() FROM bverify.orders_current").Scan(&n) == nil && n == uint64(rows)
	})
	fmt.Fprintf(os.Stderr, "copied into lake and clickhouse in %s\n", time.Since(start).Round(time.Second))
	run.Process.Signal(syscall.SIGTERM)
	run.Wait()
	if err != nil {
		return fmt.Errorf("inlet did not copy the table: %w (see %s)", err, logf.Name())
	}

	timeIt := func(f func() error) (time.Duration, error) {
		s := time.Now()
		err := f()
		return time.Since(s), err
	}
	var n int64
	pgCount, err := timeIt(func() error { return conn.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n) })
	if err != nil {
		return err
	}
	var cn uint64
	chCount, err := timeIt(func() error { return chConn.QueryRow(ctx, "SELECT count() FROM bverify.orders_current").Scan(&cn) })
	if err != nil {
		return err
	}
	lakeCount, err := timeIt(func() error {
		lk, err := lake.Open(filepath.Join(dir, "lake"), "bverify")
		if err != nil {
			return err
		}
		_, err = lk.Table("public.orders")
		return err
	})
	if err != nil {
		return err
	}
	var took time.Duration
	var rss int64
	var out []byte
	for i := 0; i < 2; i++ { // the first run warms the caches
		cmd := exec.Command(bin, "verify", "-c", cfg, "--json")
		s := time.Now()
		out, err = cmd.Output()
		took = time.Since(s)
		if err != nil {
			return fmt.Errorf("inlet verify: %v\n%s", err, out)
		}
		rss = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
	}
	var rep struct {
		Tables []struct {
			Table   string             `json:"table"`
			Elapsed int64              `json:"elapsed_ns"`
			Seconds map[string]float64 `json:"seconds"`
		} `json:"tables"`
	}
	json.Unmarshal(out, &rep)
	fmt.Printf("| what | rows | seconds | peak RSS (MiB) |\n|---|---:|---:|---:|\n")
	fmt.Printf("| Postgres `SELECT count(*)` | %d | %.3f | |\n", n, pgCount.Seconds())
	fmt.Printf("| ClickHouse `SELECT count() FROM orders_current` | %d | %.3f | |\n", cn, chCount.Seconds())
	fmt.Printf("| lake row count (replay the Delta log) | %d | %.3f | |\n", rows, lakeCount.Seconds())
	fmt.Printf("| `inlet verify` (process, all three systems) | %d | %.2f | %.0f |\n", rows, took.Seconds(), float64(rss)/(1<<20))
	for _, t := range rep.Tables {
		for _, k := range []string{"postgres", "clickhouse", "lake", "detail"} {
			if v, ok := t.Seconds[k]; ok {
				fmt.Printf("| of which %s | %d | %.2f | |\n", k, rows, v)
			}
		}
	}
	return nil
}
