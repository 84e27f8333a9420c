package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/internal/testenv"
	"github.com/inlet-dev/inlet/lake"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// runCDC measures catch-up throughput for N single-row UPDATE transactions
// (BENCH_CHANGES, default 200,000) already in the WAL:
//   - pg_recvlogical decoding the same WAL with pgoutput to /dev/null;
//   - inlet from start until Kafka holds every change (slot confirmed);
//   - inlet from start until the lake and ClickHouse both committed them.
//
// BENCH_LAKE picks where the lake lives: file (default), s3 (versitygw on
// this machine), or both (each workload on file, then on S3, in one run,
// with the end-to-end ratio).
func runCDC(e *env) error {
	n := envInt("BENCH_CHANGES", 200_000)
	rows := envInt("BENCH_ROWS", 200_000)
	var lakes []string
	switch l := os.Getenv("BENCH_LAKE"); l {
	case "", "file":
		lakes = []string{"file"}
	case "s3":
		lakes = []string{"s3"}
	case "both":
		lakes = []string{"file", "s3"}
	default:
		return fmt.Errorf("BENCH_LAKE=%q: write file, s3 or both", l)
	}
	txns := []int{1, envInt("BENCH_TXN_ROWS", 100)}
	if os.Getenv("BENCH_TXN_ROWS") != "" { // only that workload
		txns = txns[1:]
	}
	for _, txnRows := range txns {
		rate := map[string]float64{}
		for _, where := range lakes {
			r, err := cdcOnce(e, n, rows, txnRows, where)
			if err != nil {
				return err
			}
			rate[where] = r
		}
		if len(lakes) == 2 {
			fmt.Printf("\nend-to-end, transactions of %d row(s): lake on file:// %.0f changes/s, lake on S3 (versitygw) %.0f changes/s, S3/file %.2f\n",
				txnRows, rate["file"], rate["s3"], rate["s3"]/rate["file"])
		}
	}
	return nil
}

// cdcOnce runs one workload of n changes in transactions of txnRows
// single-row-key UPDATEs each, with the lake on file:// or s3, and
// returns the end-to-end changes/s.
func cdcOnce(e *env, n, rows, txnRows int, where string) (float64, error) {
	ctx := context.Background()
	envelope, envelopeLine, err := benchEnvelope(true)
	if err != nil {
		return 0, err
	}
	pg := testenv.StartPostgres(e)
	ch := testenv.StartClickHouse(e)
	dir, bin, err := workDir(e, "inlet-bench-")
	if err != nil {
		return 0, err
	}
	conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE bench (id int PRIMARY KEY, v bigint NOT NULL, note text, at timestamptz DEFAULT now());
		INSERT INTO bench SELECT g, 0, 'row ' || g, now() FROM generate_series(1, %d) g;`, rows)); err != nil {
		return 0, err
	}
	lakeDir := filepath.Join(dir, "lake")
	lakeConfig := fmt.Sprintf("lake:\n  path: \"file://%s\"", lakeDir)
	if where == "s3" {
		// versitygw keeps objects as files: the bench follows the table
		// there, without adding its own S3 requests to the measured run.
		s := testenv.StartS3In(e, filepath.Join(dir, "s3"))
		lakeDir = s.BucketDir(s.Bucket)
		lakeConfig = fmt.Sprintf("lake:\n  path: \"s3://%s/\"\n  s3: {endpoint: %q, path_style: true, access_key_id: \"${BENCH_S3_KEY}\", secret_access_key: \"${BENCH_S3_SECRET}\"}", s.Bucket, s.Endpoint)
		os.Setenv("BENCH_S3_KEY", s.AccessKey)
		os.Setenv("BENCH_S3_SECRET", s.SecretKey)
	}
	cfg := filepath.Join(dir, "pipeline.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`pipeline: bench
state_dir: %s/state
sources:
  - name: pg
    postgres:
      dsn: "%s"
      tables: ["public.bench"]
%s
clickhouse:
  addr: "%s"
  database: bench
%s`, dir, pg.DSN("postgres"), lakeConfig, ch.Addr, kafkaSection(envelopeLine))), 0o644)
	lakeTable, lakeRows := followLake(lakeDir, "bench", "public.bench")

	// 1. Snapshot, then stop: the measured WAL is produced while inlet is down.
	logf, _ := os.Create(filepath.Join(dir, "inlet.log"))
	defer logf.Close()
	start := time.Now()
	cmd := exec.Command(bin, "run", "-c", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	if err := waitFor(5*time.Minute, func() bool { return lakeRows() >= int64(rows) }); err != nil {
		cmd.Process.Kill()
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	snapshot := time.Since(start)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	// 2. A pg_recvlogical slot on the same publication, then the workload.
	bindir := testenv.PgBin()
	recvSlot := "bench_recvlogical"
	dsn := pg.DSN("postgres")
	if out, err := exec.Command(filepath.Join(bindir, "pg_recvlogical"), "-d", dsn, "--slot", recvSlot, "--create-slot", "-P", "pgoutput").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("pg_recvlogical --create-slot: %v\n%s", err, out)
	}
	script := filepath.Join(dir, "update.sql")
	os.WriteFile(script, []byte(fmt.Sprintf("\\set id random(1, %d)\nUPDATE bench SET v = v + 1, at = now() WHERE id BETWEEN :id AND :id + %d;\n", rows-txnRows+1, txnRows-1)), 0o644)
	clients := 4
	wstart := time.Now()
	pgb := exec.Command(filepath.Join(bindir, "pgbench"), "-n", "-f", script, "-c", fmt.Sprint(clients), "-j", "2",
		"-t", fmt.Sprint(n/txnRows/clients), "-h", "127.0.0.1", "-p", fmt.Sprint(pg.Port), "-U", "postgres", "postgres")
	if out, err := pgb.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("pgbench: %v\n%s", err, out)
	}
	workload := time.Since(wstart)
	// What the workload did: each UPDATE adds 1 to v of every row it
	// changes (v starts at 0), and a transaction pgbench lost to a
	// deadlock between two clients' overlapping ranges changed nothing.
	var changes int
	if err := conn.QueryRow(ctx, "SELECT sum(v)::int FROM bench").Scan(&changes); err != nil {
		return 0, err
	}
	if want := (n / txnRows / clients) * clients * txnRows; changes != want {
		fmt.Fprintf(os.Stderr, "workload: %d changes, not %d (pgbench lost %d transaction(s); see its report)\n", changes, want, (want-changes)/txnRows)
	}
	var endLSN string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&endLSN); err != nil {
		return 0, err
	}
	// The workload's dead rows vacuumed and its pages written now, not by
	// autovacuum and the checkpointer during one of the timed runs below
	// (pg_recvlogical's time varied 4.1-7.1 s without this, on 2 CPUs).
	if _, err := conn.Exec(ctx, "VACUUM bench"); err != nil {
		return 0, err
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return 0, err
	}

	// 3. Baseline: Postgres's own client decoding the same changes.
	pgPid := pg.Pid() // the postmaster, for the server's CPU time
	rstart, pgCPU0 := time.Now(), treeCPU(pgPid)
	recv := exec.Command(filepath.Join(bindir, "pg_recvlogical"), "-d", dsn, "--slot", recvSlot, "--start",
		"--endpos", endLSN, "-o", "proto_version=1", "-o", "publication_names=inlet_bench_pg", "-f", "/dev/null", "--no-loop")
	if out, err := recv.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("pg_recvlogical: %v\n%s", err, out)
	}
	recvTime := time.Since(rstart)
	fmt.Fprintf(os.Stderr, "pg_recvlogical: %.2fs, CPU: pg_recvlogical %.2fs, postgres %.2fs\n", recvTime.Seconds(),
		(recv.ProcessState.UserTime() + recv.ProcessState.SystemTime()).Seconds(), (treeCPU(pgPid) - pgCPU0).Seconds())
	conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", recvSlot)

	// 4. Inlet catching up on the same changes.
	wantLake := int64(rows + changes)
	istart, benchCPU0, pgCPU0, chCPU0 := time.Now(), cpuTime(os.Getpid()), treeCPU(pgPid), cpuTime(ch.Pid())
	cmd = exec.Command(bin, "run", "-c", cfg)
	if prof := os.Getenv("BENCH_CPUPROFILE"); prof != "" {
		cmd.Env = append(os.Environ(), "INLET_CPUPROFILE="+prof)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	var kafkaTime time.Duration
	if err := waitFor(10*time.Minute, func() bool {
		if kafkaTime == 0 {
			var ok bool
			conn.QueryRow(ctx, "SELECT confirmed_flush_lsn >= $1::pg_lsn FROM pg_replication_slots WHERE slot_name = 'inlet_bench_pg'", endLSN).Scan(&ok)
			if ok {
				kafkaTime = time.Since(istart)
			}
		}
		return kafkaTime > 0 && lakeRows() >= wantLake && chCaughtUp(filepath.Join(dir, "state", "checkpoints"), lakeTable())
	}); err != nil {
		return 0, fmt.Errorf("catch-up: %w (see %s)", err, logf.Name())
	}
	endToEnd := time.Since(istart)
	fmt.Fprintf(os.Stderr, "catch-up: %.2fs, CPU: inlet %.2fs, bench process (polling) %.2fs, postgres %.2fs, clickhouse-server %.2fs\n",
		endToEnd.Seconds(), cpuTime(cmd.Process.Pid).Seconds(), (cpuTime(os.Getpid()) - benchCPU0).Seconds(),
		(treeCPU(pgPid) - pgCPU0).Seconds(), (cpuTime(ch.Pid()) - chCPU0).Seconds())

	fmt.Printf("\nInlet CDC benchmark: %d changes, UPDATE transactions of %d row(s) each, on a %d-row table; lake on %s; %s envelope\n", changes, txnRows, rows, lakeName(where), envelope)
	fmt.Printf("machine: %d CPUs, %s/%s; Postgres, ClickHouse (%s) and the embedded Kafka broker on the same machine\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, chVersion(ch))
	fmt.Printf("| %-58s | %9s | %8s | %12s |\n", "stage", "changes", "seconds", "changes/s")
	fmt.Printf("|%s|%s|%s|%s|\n", strings.Repeat("-", 60), strings.Repeat("-", 11), strings.Repeat("-", 10), strings.Repeat("-", 14))
	row := func(name string, c int, d time.Duration) {
		fmt.Printf("| %-58s | %9d | %8.2f | %12.0f |\n", name, c, d.Seconds(), float64(c)/d.Seconds())
	}
	row("workload: pgbench, 4 clients (for scale)", changes, workload)
	row("pg_recvlogical, pgoutput, to /dev/null (baseline)", changes, recvTime)
	row("inlet: Postgres -> Kafka, committed and slot confirmed", changes, kafkaTime)
	row("inlet: Postgres -> lake + ClickHouse, both committed", changes, endToEnd)
	row("inlet: initial snapshot -> lake + ClickHouse (for scale)", rows, snapshot)
	fmt.Printf("\nratio inlet->Kafka / pg_recvlogical: %.2f; end-to-end / pg_recvlogical: %.2f\n",
		recvTime.Seconds()/kafkaTime.Seconds(), recvTime.Seconds()/endToEnd.Seconds())
	return float64(changes) / endToEnd.Seconds(), nil
}

func lakeName(where string) string {
	if where == "s3" {
		return "S3 (versitygw, posix backend, on this machine)"
	}
	return "file://"
}

func waitFor(d time.Duration, ok func() bool) error {
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// chCaughtUp reports whether the ClickHouse checkpoint reached the offsets
// the lake's txn actions record (topic bench.public.bench, partition 0).
func chCaughtUp(ckDir string, t *lake.Table) bool {
	return chCaughtUpOn(ckDir, "bench.public.bench", t)
}

// chCaughtUpOn is chCaughtUp for partition 0 of topic.
func chCaughtUpOn(ckDir, topic string, t *lake.Table) bool {
	if t == nil {
		return false
	}
	s, err := checkpoint.OpenFile(ckDir)
	if err != nil {
		return false
	}
	b, ok, err := s.Latest(context.Background(), "clickhouse")
	if err != nil || !ok {
		return false
	}
	last := int64(-1)
	for _, v := range t.Txns() {
		last = max(last, v)
	}
	return last >= 0 && b.Next(topic, 0) > last
}

func chVersion(c *testenv.ClickHouse) string {
	out, err := exec.Command("clickhouse-client", "--port", strings.Split(c.Addr, ":")[1], "-q", "SELECT version()").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// followLake follows one lake table's log incrementally (re-reading the
// whole log every poll took a share of the 2 CPUs from the stage
// measured). table returns it caught up (nil while it cannot be read);
// rows its change count (0 then).
func followLake(dir, pipeline, name string) (table func() *lake.Table, rows func() int64) {
	var followed *lake.Table
	table = func() *lake.Table {
		if followed == nil {
			l, err := lake.Open(dir, pipeline)
			if err != nil {
				return nil
			}
			if followed, err = l.Table(name); err != nil {
				followed = nil
				return nil
			}
		}
		if followed.Follow() != nil {
			followed = nil
			return nil
		}
		return followed
	}
	rows = func() int64 {
		if t := table(); t != nil {
			return t.Rows()
		}
		return 0
	}
	return table, rows
}
