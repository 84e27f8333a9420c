package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// runSnapshot measures the initial snapshot of one table of BENCH_ROWS
// rows (default 5,000,000, about 150 bytes each as COPY text) against a
// plain `\copy (SELECT * FROM t) TO '/dev/null'` of the same table:
//   - inlet --only sources, from start until the snapshot's last chunk and
//     its position are committed to Kafka;
//   - inlet (sources and engine, lake only), from start until the lake
//     holds every row;
//   - inlet (sources and engine, lake and ClickHouse), from start until the
//     lake holds every row and ClickHouse's checkpoint has caught up.
//
// The broker is kfake in this process, reached as an external broker, so
// the peak RSS reported is Inlet's own (kfake keeps every record in memory;
// with the embedded broker that memory would count against Inlet).
func runSnapshot(e *env) error {
	ctx := context.Background()
	rows := envInt("BENCH_ROWS", 5_000_000)
	workers := envInt("BENCH_WORKERS", max(1, min(4, runtime.NumCPU()/2)))
	// BENCH_ENVELOPE sets kafka.envelope, BENCH_BATCH_BYTES engine.batch_bytes.
	envelope, envelopeLine, err := benchEnvelope(false)
	if err != nil {
		return err
	}
	pg := testenv.StartPostgres(e)
	dir, bin, err := workDir(e, "inlet-bench-snap-")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	fmt.Fprintf(os.Stderr, "loading %d rows...\n", rows)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE snap (
			id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
			amount numeric(12,2), created_at timestamptz NOT NULL, active boolean, note text);
		INSERT INTO snap SELECT g, g %% 100000, (ARRAY['new','paid','shipped','cancelled'])[1 + g %% 4],
			(g %% 100000) / 100.0, timestamptz '2026-01-01' + g * interval '1 second', g %% 3 = 0,
			md5(g::text) || md5((g * 7)::text) || ' ' || repeat('n', g %% 20)
		FROM generate_series(1, %d) g`, rows)); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE snap"); err != nil {
		return err
	}
	var copyBytes int64
	if err := conn.QueryRow(ctx, "SELECT sum(octet_length(s::text)) + count(*) FROM (SELECT * FROM snap) s").Scan(&copyBytes); err != nil {
		return err
	}

	// Baseline: psql's \copy of the same table to /dev/null (once to warm
	// the cache, once timed).
	psql := filepath.Join(testenv.PgBin(), "psql")
	copyOnce := func() (time.Duration, error) {
		start := time.Now()
		out, err := exec.Command(psql, pg.DSN("postgres"), "-qc", `\copy (SELECT * FROM snap) TO '/dev/null'`).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("psql \\copy: %v\n%s", err, out)
		}
		return time.Since(start), nil
	}
	if _, err := copyOnce(); err != nil {
		return err
	}
	copyTime, err := copyOnce()
	if err != nil {
		return err
	}

	// A fresh broker for every stage: kfake keeps every record in memory,
	// and a broker full of the previous stages' data would make this
	// process's garbage collector compete for the same 2 CPUs.
	var brokers []string
	var broker *kfake.Cluster
	freshBroker := func() error {
		if broker != nil {
			broker.Close()
		}
		var err error
		// Segments in files (not fsynced per batch: Kafka's default), 16
		// MiB as Inlet's embedded broker has. Without a data dir kfake
		// keeps each segment as an in-memory byte slice that doubles as
		// it grows: copying it was 60% of this process's 8-9 CPU s in a
		// 5M-row stage, on the two CPUs Inlet is measured on.
		brokerDir := filepath.Join(dir, "broker")
		os.RemoveAll(brokerDir)
		broker, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.DataDir(brokerDir),
			kfake.BrokerConfigs(map[string]string{"transaction.max.timeout.ms": "900000", "log.segment.bytes": fmt.Sprint(16 << 20)}))
		if err != nil {
			return err
		}
		brokers = broker.ListenAddrs()
		runtime.GC()
		return nil
	}
	e.Cleanup(func() {
		if broker != nil {
			broker.Close()
		}
	})

	var chAddr string // set for the ClickHouse stage
	chPid := 0        // the ClickHouse stage's server, for its CPU time
	pgPid := pg.Pid() // the postmaster, for the server's CPU time
	writeCfg := func(pipeline, compression string) string {
		cfg := filepath.Join(dir, pipeline+".yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf(`pipeline: %[1]s
state_dir: %[2]s/%[1]s-state
kafka:
  brokers: [%[3]q]
  compression: %[6]s
%[7]ssources:
  - name: pg
    postgres:
      dsn: "%[4]s"
      snapshot_workers: %[5]d
      tables: ["public.snap"]
lake:
  path: "file://%[2]s/%[1]s-lake"
`, pipeline, dir, brokers[0], pg.DSN("postgres"), workers, compression, envelopeLine)), 0o644)
		if bb := os.Getenv("BENCH_BATCH_BYTES"); bb != "" { // engine.batch_bytes
			f, _ := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
			fmt.Fprintf(f, "engine:\n  batch_bytes: %s\n", bb)
			f.Close()
		}
		if chAddr != "" {
			f, _ := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
			fmt.Fprintf(f, "clickhouse:\n  addr: %q\n  database: %s\n", chAddr, pipeline)
			f.Close()
		}
		return cfg
	}
	logf, _ := os.Create(filepath.Join(dir, "inlet.log"))
	defer logf.Close()
	// run starts inlet and waits until done reports true; it returns the
	// time from start and the process's peak RSS in bytes.
	run := func(cfg string, only string, done func() bool) (time.Duration, int64, error) {
		args := []string{"run", "-c", cfg}
		if only != "" {
			args = append(args, "--only", only)
		}
		heapDone := make(chan struct{})
		defer close(heapDone)
		if prof := os.Getenv("BENCH_HEAPPROFILE"); prof != "" {
			// Live heap every 3s, to see what the peak holds.
			port := testenv.FreePort(e)
			args = append(args, "--http", fmt.Sprintf("127.0.0.1:%d", port))
			go func() {
				for i := 0; ; i++ {
					select {
					case <-heapDone:
						return
					case <-time.After(3 * time.Second):
					}
					resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", port))
					if err != nil {
						continue
					}
					f, _ := os.Create(fmt.Sprintf("%s.%s.%02d", prof, only, i))
					io.Copy(f, resp.Body)
					f.Close()
					resp.Body.Close()
				}
			}()
		}
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.Env = os.Environ()
		stage := strings.TrimSuffix(filepath.Base(cfg), ".yaml") + only // one profile per stage
		if prof := os.Getenv("BENCH_CPUPROFILE"); prof != "" {
			cmd.Env = append(cmd.Env, "INLET_CPUPROFILE="+prof+"."+stage)
		}
		if prof := os.Getenv("BENCH_MEMPROFILE"); prof != "" {
			cmd.Env = append(cmd.Env, "INLET_MEMPROFILE="+prof+"."+stage)
		}
		if lim := os.Getenv("BENCH_INLET_GOMEMLIMIT"); lim != "" {
			cmd.Env = append(cmd.Env, "GOMEMLIMIT="+lim)
		}
		if prof := os.Getenv("BENCH_BROKERPROFILE"); prof != "" { // this process: the broker's CPU
			if f, err := os.Create(prof + "." + stage); err == nil {
				pprof.StartCPUProfile(f)
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
		start, benchCPU0, chCPU0, pgCPU0 := time.Now(), cpuTime(os.Getpid()), cpuTime(chPid), treeCPU(pgPid)
		if err := cmd.Start(); err != nil {
			return 0, 0, err
		}
		err := waitFor(20*time.Minute, done)
		took := time.Since(start)
		rss := peakRSS(cmd.Process.Pid)
		fmt.Fprintf(os.Stderr, "%s: %.2fs, CPU: inlet %.2fs, bench process (broker) %.2fs",
			cfg, took.Seconds(), cpuTime(cmd.Process.Pid).Seconds(), (cpuTime(os.Getpid()) - benchCPU0).Seconds())
		fmt.Fprintf(os.Stderr, ", postgres %.2fs", (treeCPU(pgPid) - pgCPU0).Seconds())
		if chPid != 0 {
			fmt.Fprintf(os.Stderr, ", clickhouse-server %.2fs", (cpuTime(chPid) - chCPU0).Seconds())
		}
		fmt.Fprintln(os.Stderr)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if err != nil {
			return 0, 0, fmt.Errorf("%w (see %s)", err, logf.Name())
		}
		return took, rss, nil
	}

	// 1. Postgres -> Kafka: done when the committed position says so;
	// with the default compression (snappy) and with none.
	toKafka := func(pipeline, compression string) (time.Duration, int64, error) {
		if err := freshBroker(); err != nil {
			return 0, 0, err
		}
		w, err := watchPosition(brokers, pipeline+"._inlet_offsets", "pg", func(v json.RawMessage) bool {
			var p struct {
				SnapshotDone bool `json:"snapshot_done"`
			}
			return json.Unmarshal(v, &p) == nil && p.SnapshotDone
		})
		if err != nil {
			return 0, 0, err
		}
		defer w.Close()
		took, rss, err := run(writeCfg(pipeline, compression), "sources", w.Done)
		if err != nil {
			return 0, 0, fmt.Errorf("snapshot into kafka (%s): %w", compression, err)
		}
		conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", "inlet_"+pipeline+"_pg")
		return took, rss, nil
	}
	// BENCH_STAGES picks stages (kafka, raw, lake, all; default all), to
	// iterate on one.
	stages := os.Getenv("BENCH_STAGES")
	want := func(stage string) bool {
		return stages == "" || strings.Contains(","+stages+",", ","+stage+",")
	}
	var kafkaTime, rawTime, lakeTime, allTime time.Duration
	var kafkaRSS, rawRSS, lakeRSS, allRSS int64
	if want("kafka") {
		if kafkaTime, kafkaRSS, err = toKafka("bsnap", "snappy"); err != nil {
			return err
		}
	}
	if want("raw") {
		if rawTime, rawRSS, err = toKafka("bsnapraw", "none"); err != nil {
			return err
		}
	}

	// 2. Postgres -> Kafka -> lake, one process, from scratch.
	lakeStage := func() error {
		if err := freshBroker(); err != nil {
			return err
		}
		lcfg := writeCfg("bsnaplake", "snappy")
		lakeDir := filepath.Join(dir, "bsnaplake-lake")
		// Follow the table's log (read only the new commits): opening it
		// afresh at every check replayed the whole log each time and took
		// 20-50 CPU s of this process, next to Inlet, in a 5M-row stage.
		_, lakeRows := followLake(lakeDir, "bsnaplake", "public.snap")
		lakeTime, lakeRSS, err = run(lcfg, "", func() bool { return lakeRows() >= int64(rows) })
		if err != nil {
			return fmt.Errorf("snapshot into the lake: %w", err)
		}
		conn.Exec(ctx, "SELECT pg_drop_replication_slot('inlet_bsnaplake_pg')")
		return nil
	}
	if want("lake") {
		if err := lakeStage(); err != nil {
			return err
		}
	}

	// 3. Postgres -> Kafka -> lake + ClickHouse, one process, from scratch.
	if want("all") {
		if err := freshBroker(); err != nil {
			return err
		}
		ch := testenv.StartClickHouse(e)
		chAddr, chPid = ch.Addr, ch.Pid()
		cfg := writeCfg("bsnapall", "snappy")
		chAddr = ""
		table, lakeRows := followLake(filepath.Join(dir, "bsnapall-lake"), "bsnapall", "public.snap")
		ckDir := filepath.Join(dir, "bsnapall-state", "checkpoints")
		allTime, allRSS, err = run(cfg, "", func() bool {
			return lakeRows() >= int64(rows) && chCaughtUpOn(ckDir, "bsnapall.public.snap", table())
		})
		if err != nil {
			return fmt.Errorf("snapshot into the lake and ClickHouse: %w", err)
		}
		conn.Exec(ctx, "SELECT pg_drop_replication_slot('inlet_bsnapall_pg')")
	}

	mb := float64(copyBytes) / 1e6
	fmt.Printf("\nInlet snapshot benchmark: %d rows, %.0f MB as COPY text (%.0f bytes/row), %d snapshot worker(s), %s envelope\n", rows, mb, float64(copyBytes)/float64(rows), workers, envelope)
	fmt.Printf("machine: %d CPUs, %s/%s; Postgres and the Kafka broker (kfake, in the bench process) on the same machine\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("| %-58s | %9s | %8s | %10s | %7s | %13s |\n", "stage", "rows", "seconds", "rows/s", "MB/s", "peak RSS (MB)")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 60), strings.Repeat("-", 11), strings.Repeat("-", 10), strings.Repeat("-", 12), strings.Repeat("-", 9), strings.Repeat("-", 15))
	row := func(name string, d time.Duration, rss int64) {
		if d == 0 {
			return // stage not run
		}
		r := "-"
		if rss > 0 {
			r = fmt.Sprintf("%d", rss>>20)
		}
		fmt.Printf("| %-58s | %9d | %8.2f | %10.0f | %7.1f | %13s |\n", name, rows, d.Seconds(), float64(rows)/d.Seconds(), mb/d.Seconds(), r)
	}
	row(`psql \copy (SELECT * FROM snap) TO '/dev/null'`, copyTime, 0)
	row("inlet --only sources: Postgres -> Kafka (snappy)", kafkaTime, kafkaRSS)
	row("inlet --only sources: Postgres -> Kafka (no compression)", rawTime, rawRSS)
	row("inlet run: Postgres -> Kafka -> lake, committed", lakeTime, lakeRSS)
	row("inlet run: Postgres -> Kafka -> lake + ClickHouse, committed", allTime, allRSS)
	fmt.Printf("\nratio inlet->Kafka time / COPY time: %.2f with snappy, %.2f without compression (target <= 2); inlet->lake / COPY: %.2f (target <= 3); inlet->lake + ClickHouse / COPY: %.2f (target <= 4)\n",
		kafkaTime.Seconds()/copyTime.Seconds(), rawTime.Seconds()/copyTime.Seconds(), lakeTime.Seconds()/copyTime.Seconds(), allTime.Seconds()/copyTime.Seconds())
	return nil
}

// peakRSS is a running process's resident-set high-water mark (VmHWM), in
// bytes. N.B. not ru_maxrss from wait4: Go starts children with a
// vfork-style clone that shares this process's memory until exec, and
// Linux carries that pre-exec high-water mark into the child's maxrss, so
// it would report this process's size (here: kfake's in-memory log).
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// cpuTime is a process's user + system CPU time so far.
func cpuTime(pid int) time.Duration {
	return clockTicks(procStat(pid), statUtime, statStime)
}

// treeCPU is the CPU time of pid, of its children still running and of
// those it has reaped: a Postgres server's, backends included.
func treeCPU(pid int) time.Duration {
	total := clockTicks(procStat(pid), statUtime, statStime, statCutime, statCstime)
	ents, _ := os.ReadDir("/proc")
	parent := strconv.Itoa(pid)
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(child); len(f) > statPpid && f[statPpid] == parent {
			total += clockTicks(f, statUtime, statStime)
		}
	}
	return total
}

// Fields of procStat, numbered from its first (/proc/pid/stat's third,
// the state).
const (
	statPpid   = 1
	statUtime  = 11
	statStime  = 12
	statCutime = 13
	statCstime = 14
)

// procStat is /proc/pid/stat's fields after the command name (which may
// hold spaces), from field 3 (state) on; nil if pid is gone.
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	return strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
}

// clockTicks sums the given fields of f, counted in clock ticks (USER_HZ,
// 100 a second), as a duration; 0 if f lacks one.
func clockTicks(f []string, fields ...int) time.Duration {
	var n int64
	for _, i := range fields {
		if i >= len(f) {
			return 0
		}
		v, _ := strconv.ParseInt(f[i], 10, 64)
		n += v
	}
	return time.Duration(n) * time.Second / 100
}
