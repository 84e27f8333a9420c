package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/internal/testenv"
	"github.com/inlet-dev/inlet/lake"
)

// runScale is the cdc workload (single-row UPDATE transactions) through a
// scaled-out pipeline: an external broker (`inlet broker`), 12 partitions,
// checkpoints in Postgres, engines in a consumer group. For 1 and then 2
// engine processes (BENCH_ENGINES, e.g. "1,2,3"), in the same run: the
// workload, the source alone publishing it to Kafka, then the engines
// alone catching up from Kafka until the lake and ClickHouse both
// committed every change. The engine stage is what more engine processes
// share.
func runScale(e *env) error {
	ctx := context.Background()
	n := envInt("BENCH_CHANGES", 200_000)
	rows := envInt("BENCH_ROWS", 200_000)
	txnRows := envInt("BENCH_TXN_ROWS", 1)
	counts := []int{1, 2}
	if v := os.Getenv("BENCH_ENGINES"); v != "" {
		counts = nil
		for _, f := range strings.Split(v, ",") {
			var k int
			fmt.Sscan(f, &k)
			if k > 0 {
				counts = append(counts, k)
			}
		}
	}
	pg := testenv.StartPostgres(e)
	ch := testenv.StartClickHouse(e)
	dir, bin, err := workDir(e, "inlet-bench-scale-")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA inlet; CREATE TABLE bench (id int PRIMARY KEY, v bigint NOT NULL, note text, at timestamptz DEFAULT now());
		INSERT INTO bench SELECT g, 0, 'row ' || g, now() FROM generate_series(1, %d) g;`, rows)); err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	logf, _ := os.Create(filepath.Join(dir, "inlet.log"))
	defer logf.Close()
	broker := exec.Command(bin, "broker", "--data-dir", filepath.Join(dir, "broker"), "--listen", addr)
	broker.Stdout, broker.Stderr = logf, logf
	if err := broker.Start(); err != nil {
		return err
	}
	defer func() { broker.Process.Signal(syscall.SIGTERM); broker.Wait() }()
	cfg := filepath.Join(dir, "pipeline.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`pipeline: bench
state_dir: ${INLET_STATE}
sources:
  - name: pg
    postgres:
      dsn: %[1]q
      tables: ["public.bench"]
lake:
  path: "file://%[2]s/lake"
clickhouse:
  addr: %[3]q
  database: bench
engine:
  consumer_group: true
kafka:
  brokers: [%[4]q]
  partitions: 12
  compression: none
checkpoints:
  postgres:
    dsn: %[1]q
    table: inlet.checkpoints
`, pg.DSN("postgres"), dir, ch.Addr, addr)), 0o644)
	start := func(name string, args ...string) (*exec.Cmd, error) {
		cmd := exec.Command(bin, append([]string{"run", "-c", cfg}, args...)...)
		cmd.Env = append(os.Environ(), "INLET_STATE="+filepath.Join(dir, name))
		cmd.Stdout, cmd.Stderr = logf, logf
		return cmd, cmd.Start()
	}
	stop := func(cmds ...*exec.Cmd) {
		for _, c := range cmds {
			c.Process.Signal(syscall.SIGTERM)
		}
		for _, c := range cmds {
			c.Wait()
		}
	}
	store, err := checkpoint.OpenPostgres(ctx, pg.DSN("postgres"), "inlet.checkpoints", "bench")
	if err != nil {
		return err
	}
	defer store.Close()
	lakeTable, lakeRows := followLake(filepath.Join(dir, "lake"), "bench", "public.bench")
	caughtUp := func(want int64) bool {
		return lakeRows() >= want && chCaughtUpAll(ctx, store, lakeTable())
	}

	// Snapshot with one engine, then everything stops.
	src, err := start("source", "--only", "sources")
	if err != nil {
		return err
	}
	eng, err := start("engine0", "--only", "engine")
	if err != nil {
		return err
	}
	if err := waitFor(5*time.Minute, func() bool { return caughtUp(int64(rows)) }); err != nil {
		stop(src, eng)
		return fmt.Errorf("snapshot: %w (see %s)", err, logf.Name())
	}
	stop(src, eng)

	bindir := testenv.PgBin()
	script := filepath.Join(dir, "update.sql")
	os.WriteFile(script, []byte(fmt.Sprintf("\\set id random(1, %d)\nUPDATE bench SET v = v + 1, at = now() WHERE id BETWEEN :id AND :id + %d;\n", rows-txnRows+1, txnRows-1)), 0o644)
	clients := 4
	changes := (n / txnRows / clients) * clients * txnRows
	want := int64(rows)
	type result struct {
		engines        int
		source, engine time.Duration
		engineCPU      time.Duration
	}
	var results []result
	for _, k := range counts {
		pgb := exec.Command(filepath.Join(bindir, "pgbench"), "-n", "-f", script, "-c", fmt.Sprint(clients), "-j", "2",
			"-t", fmt.Sprint(n/txnRows/clients), "-h", "127.0.0.1", "-p", fmt.Sprint(pg.Port), "-U", "postgres", "postgres")
		if out, err := pgb.CombinedOutput(); err != nil {
			return fmt.Errorf("pgbench: %v\n%s", err, out)
		}
		want += int64(changes)
		var endLSN string
		if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&endLSN); err != nil {
			return err
		}
		// The source alone publishes the workload to Kafka.
		sstart := time.Now()
		if src, err = start("source", "--only", "sources"); err != nil {
			return err
		}
		if err := waitFor(10*time.Minute, func() bool {
			var ok bool
			conn.QueryRow(ctx, "SELECT confirmed_flush_lsn >= $1::pg_lsn FROM pg_replication_slots WHERE slot_name = 'inlet_bench_pg'", endLSN).Scan(&ok)
			return ok
		}); err != nil {
			stop(src)
			return fmt.Errorf("source: %w (see %s)", err, logf.Name())
		}
		sourceTime := time.Since(sstart)
		stop(src)
		// k engines catch up from Kafka.
		estart := time.Now()
		var engines []*exec.Cmd
		for i := range k {
			c, err := start(fmt.Sprintf("engine%d", i), "--only", "engine")
			if err != nil {
				return err
			}
			engines = append(engines, c)
		}
		err := waitFor(10*time.Minute, func() bool { return caughtUp(want) })
		engineTime := time.Since(estart)
		var cpu time.Duration
		for _, c := range engines {
			cpu += cpuTime(c.Process.Pid)
		}
		stop(engines...)
		if err != nil {
			return fmt.Errorf("%d engines: %w (see %s)", k, err, logf.Name())
		}
		fmt.Fprintf(os.Stderr, "%d engine(s): %.2fs, engines' CPU %.2fs\n", k, engineTime.Seconds(), cpu.Seconds())
		results = append(results, result{engines: k, source: sourceTime, engine: engineTime, engineCPU: cpu})
	}

	fmt.Printf("\nInlet scale-out benchmark: %d changes per run, UPDATE transactions of %d row(s) each, on a %d-row table; 12 partitions\n", changes, txnRows, rows)
	fmt.Printf("machine: %d CPUs, %s/%s; Postgres, ClickHouse (%s), `inlet broker` and every Inlet process on the same machine\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, chVersion(ch))
	fmt.Printf("| %-7s | %-44s | %8s | %10s | %-44s | %8s | %10s | %14s |\n", "engines", "stage", "seconds", "changes/s", "stage", "seconds", "changes/s", "engine CPU s")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 9), strings.Repeat("-", 46), strings.Repeat("-", 10), strings.Repeat("-", 12), strings.Repeat("-", 46), strings.Repeat("-", 10), strings.Repeat("-", 12), strings.Repeat("-", 16))
	for _, r := range results {
		fmt.Printf("| %7d | %-44s | %8.2f | %10.0f | %-44s | %8.2f | %10.0f | %14.2f |\n", r.engines,
			"source: Postgres -> Kafka (one process)", r.source.Seconds(), float64(changes)/r.source.Seconds(),
			"engines: Kafka -> lake + ClickHouse", r.engine.Seconds(), float64(changes)/r.engine.Seconds(), r.engineCPU.Seconds())
	}
	return nil
}

// chCaughtUpAll reports whether the ClickHouse checkpoint (in store)
// reached, on every partition, the offsets the lake's txn actions record.
func chCaughtUpAll(ctx context.Context, store checkpoint.Store, t *lake.Table) bool {
	if t == nil {
		return false
	}
	b, ok, err := store.Latest(ctx, "clickhouse")
	if err != nil || !ok {
		return false
	}
	prefix := "inlet/bench/engine/bench.public.bench/"
	for app, v := range t.Txns() {
		p, ok := strings.CutPrefix(app, prefix)
		if !ok {
			continue
		}
		var part int32
		fmt.Sscan(p, &part)
		if b.Next("bench.public.bench", part) <= v {
			return false
		}
	}
	return len(t.Txns()) > 0
}
